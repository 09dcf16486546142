package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.core.protocol.Capabilities;
import dev.invertingproxy.core.protocol.NotServedException;
import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.core.protocol.ProxyClient.Claimed;
import dev.invertingproxy.core.protocol.ProxyClient.Polled;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code GET agent/next} (extension {@code next-request}) through core's {@link ProxyClient} over
 * the OkHttp transport.
 */
class NextRequestTest {
  private static final String WIRE = "GET /x HTTP/1.1\r\nHost: public.example\r\n\r\n";

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
  void answersWithTheRequestAndItsId() throws Exception {
    proxy.enqueue(
        new MockResponse.Builder()
            .addHeader("X-Inverting-Proxy-Request-ID", "r7")
            .addHeader("X-Inverting-Proxy-Capabilities", "cancel-notices, next-request")
            .body(WIRE)
            .build());
    Polled polled = client.next(new CancelSignal());
    assertThat(polled.claimed()).isPresent();
    try (Claimed message = polled.claimed().orElseThrow()) {
      assertThat(message.requestId()).isEqualTo("r7");
      assertThat(message.headers().first("X-Inverting-Proxy-Request-ID")).hasValue("r7");
      assertThat(new String(message.wire().readAllBytes(), UTF_8)).isEqualTo(WIRE);
    }
    assertThat(polled.capabilities().has(Capabilities.NEXT_REQUEST)).isTrue();
    assertThat(polled.capabilities().has(Capabilities.CANCEL_NOTICES)).isTrue();
    RecordedRequest recorded = proxy.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("GET");
    assertThat(recorded.getTarget()).isEqualTo("/agent/next");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Backend-ID")).isEqualTo("b1");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Request-ID")).isNull();
  }

  @Test
  void noContentMeansNoRequest() throws Exception {
    proxy.enqueue(
        new MockResponse.Builder()
            .code(204)
            .addHeader("X-Inverting-Proxy-Capabilities", "next-request")
            .build());
    Polled idle = client.next(new CancelSignal());
    assertThat(idle.claimed()).isEmpty();
    assertThat(idle.capabilities().has(Capabilities.NEXT_REQUEST)).isTrue();
    // The connection went back to the pool: the next call reuses it.
    proxy.enqueue(new MockResponse.Builder().code(204).build());
    assertThat(client.next(new CancelSignal()).claimed()).isEmpty();
    proxy.takeRequest();
    assertThat(proxy.takeRequest().getConnectionIndex()).isZero();
  }

  @Test
  void otherStatusesAreProxyCallExceptions() {
    proxy.enqueue(new MockResponse.Builder().code(429).body("too many concurrent polls").build());
    assertThatThrownBy(() -> client.next(new CancelSignal()))
        .isInstanceOfSatisfying(
            ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(429))
        .isNotInstanceOf(NotServedException.class)
        .hasMessageContaining("429")
        .hasMessageContaining("too many concurrent polls");
  }

  @Test
  void cancellingTheSignalAbortsAWaitingPoll() throws Exception {
    proxy.enqueue(
        new MockResponse.Builder().body(WIRE).onResponseStart(SocketEffect.Stall.INSTANCE).build());
    CancelSignal cancel = new CancelSignal();
    CompletableFuture<Throwable> failure =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                client.next(cancel);
                return null;
              } catch (IOException e) {
                return e;
              }
            });
    proxy.takeRequest(); // the poll is waiting at the proxy
    cancel.cancel();
    assertThat(failure.get(5, TimeUnit.SECONDS)).isInstanceOf(IOException.class);
  }

  @ParameterizedTest
  @ValueSource(ints = {404, 405, 501})
  void aProxyWithoutTheEndpointIsNotServed(int status) {
    proxy.enqueue(new MockResponse.Builder().code(status).body("no such endpoint").build());
    assertThatThrownBy(() -> client.next(new CancelSignal()))
        .isInstanceOfSatisfying(
            NotServedException.class, e -> assertThat(e.status()).isEqualTo(status))
        .hasMessageContaining("GET agent/next")
        .hasMessageContaining("no such endpoint");
  }

  @Test
  void anOkThatNamesNoRequestIsNotServed() {
    // A server that takes any call for a list call answers agent/next with an ID list.
    proxy.enqueue(new MockResponse.Builder().body("[\"a\"]").build());
    assertThatThrownBy(() -> client.next(new CancelSignal()))
        .isInstanceOfSatisfying(
            NotServedException.class, e -> assertThat(e.status()).isEqualTo(200))
        .hasMessageContaining("names no request");
  }
}
