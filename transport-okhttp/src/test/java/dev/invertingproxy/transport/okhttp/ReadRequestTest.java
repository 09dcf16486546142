package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.core.protocol.ProxyClient.Claimed;
import java.io.InputStream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code GET agent/request} through core's {@link ProxyClient} over the OkHttp transport. */
class ReadRequestTest {
  private static final String WIRE =
      "POST /x HTTP/1.1\r\nHost: public.example\r\n" + "Content-Length: 5\r\n\r\nhello";

  @StartStop final MockWebServer proxy = new MockWebServer();

  private OkHttpAgentTransport transport;
  private ProxyClient client;

  @BeforeEach
  void setUp() {
    transport = OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy));
    client = TestConfigs.client(transport);
  }

  @AfterEach
  void tearDown() {
    transport.close();
  }

  @Test
  void surfacesHeadersAndBody() throws Exception {
    proxy.enqueue(
        new MockResponse.Builder()
            .addHeader("X-Inverting-Proxy-Request-Start-Time", "2026-01-02T03:04:05.123456789Z")
            .addHeader("X-Inverting-Proxy-User-ID", "someone@example.com")
            .body(WIRE)
            .build());

    try (Claimed message = client.read("r1")) {
      assertThat(message.requestId()).isEqualTo("r1");
      assertThat(message.userId()).hasValue("someone@example.com");
      assertThat(message.headers().first("x-inverting-proxy-request-start-time"))
          .hasValue("2026-01-02T03:04:05.123456789Z");
      assertThat(message.headers().first("X-Inverting-Proxy-User-ID"))
          .hasValue("someone@example.com");
      assertThat(new String(message.wire().readAllBytes(), UTF_8)).isEqualTo(WIRE);
    }

    RecordedRequest recorded = proxy.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("GET");
    assertThat(recorded.getTarget()).isEqualTo("/agent/request");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Backend-ID")).isEqualTo("b1");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Request-ID")).isEqualTo("r1");
  }

  @Test
  void bodyIsStreamedNotBuffered() throws Exception {
    // The proxy sends the head and half of the body, then stalls: read must return anyway
    // and the first half must be readable.
    proxy.enqueue(
        new MockResponse.Builder()
            .addHeader("X-Inverting-Proxy-Request-Start-Time", "2026-01-02T03:04:05Z")
            .body("0123456789abcdefghij")
            .onResponseBody(SocketEffect.Stall.INSTANCE)
            .build());

    try (Claimed message = client.read("r1")) {
      InputStream body = message.wire();
      assertThat(body.readNBytes(10)).isEqualTo("0123456789".getBytes(UTF_8));
    }
  }

  @Test
  void notFoundIsAProxyCallException() {
    proxy.enqueue(new MockResponse.Builder().code(404).body("404 page not found\n").build());

    assertThatThrownBy(() -> client.read("gone"))
        .isInstanceOfSatisfying(
            ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(404))
        .hasMessageContaining("404 page not found");
  }
}
