package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.AgentTransport.WireMessage;
import dev.invertingproxy.spi.CancelSignal;
import dev.invertingproxy.spi.ProxyCallException;
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

/** {@code GET agent/next} (extension {@code next-request}) as the OkHttp transport makes it. */
class NextRequestTest {
  private static final String WIRE = "GET /x HTTP/1.1\r\nHost: public.example\r\n\r\n";

  @StartStop final MockWebServer proxy = new MockWebServer();

  private OkHttpAgentTransport transport;

  @BeforeEach
  void setUp() {
    transport = OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy));
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
    try (WireMessage message = transport.nextRequest("b1", new CancelSignal())) {
      assertThat(message).isNotNull();
      assertThat(message.headers().first("X-Inverting-Proxy-Request-ID")).hasValue("r7");
      assertThat(new String(message.body().readAllBytes(), UTF_8)).isEqualTo(WIRE);
    }
    assertThat(transport.proxyCapabilities())
        .contains(AgentTransport.NEXT_REQUEST, AgentTransport.CANCEL_NOTICES);
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
    assertThat(transport.nextRequest("b1", new CancelSignal())).isNull();
    // The connection went back to the pool: the next call reuses it.
    proxy.enqueue(new MockResponse.Builder().code(204).build());
    assertThat(transport.nextRequest("b1", new CancelSignal())).isNull();
    proxy.takeRequest();
    assertThat(proxy.takeRequest().getConnectionIndex()).isZero();
  }

  @Test
  void otherStatusesAreProxyCallExceptions() {
    proxy.enqueue(new MockResponse.Builder().code(429).body("too many concurrent polls").build());
    assertThatThrownBy(() -> transport.nextRequest("b1", new CancelSignal()))
        .isInstanceOf(ProxyCallException.class)
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
                transport.nextRequest("b1", cancel);
                return null;
              } catch (IOException e) {
                return e;
              }
            });
    proxy.takeRequest(); // the poll is waiting at the proxy
    cancel.cancel();
    assertThat(failure.get(5, TimeUnit.SECONDS)).isInstanceOf(IOException.class);
  }
}
