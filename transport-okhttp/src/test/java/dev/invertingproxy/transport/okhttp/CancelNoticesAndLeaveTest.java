package dev.invertingproxy.transport.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code GET agent/cancelled} (extension {@code cancel-notices}) and {@code POST agent/leave}
 * (extension {@code leave-notice}) through core's {@link ProxyClient} over the OkHttp transport.
 */
class CancelNoticesAndLeaveTest {
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
  void cancelledIdsAreListed() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("[\"r1\",\"r2\"]").build());

    assertThat(client.listCancelled(new CancelSignal())).containsExactly("r1", "r2");

    RecordedRequest recorded = proxy.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("GET");
    assertThat(recorded.getTarget()).isEqualTo("/agent/cancelled");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Backend-ID")).isEqualTo("b1");
  }

  @Test
  void anEmptyCancelledAnswerIsNoIds() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("null").build());

    assertThat(client.listCancelled(new CancelSignal())).isEmpty();
  }

  @Test
  void aMalformedCancelledAnswerNamesItsEndpoint() {
    proxy.enqueue(new MockResponse.Builder().body("[1]").build());

    assertThatThrownBy(() -> client.listCancelled(new CancelSignal()))
        .isInstanceOf(IOException.class)
        .isNotInstanceOf(ProxyCallException.class)
        .hasMessageStartingWith("agent/cancelled: ");
  }

  @Test
  void aCancelledErrorIsAProxyCallExceptionWithTheStatusAndBodyStart() {
    proxy.enqueue(new MockResponse.Builder().code(503).body("draining").build());

    assertThatThrownBy(() -> client.listCancelled(new CancelSignal()))
        .isInstanceOfSatisfying(
            ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(503))
        .hasMessage("GET agent/cancelled: the proxy answered 503 Server Error: draining");
  }

  @Test
  void leaveIsAnEmptyPostAnswered204() throws Exception {
    proxy.enqueue(new MockResponse.Builder().code(204).build());

    client.leave();

    RecordedRequest recorded = proxy.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("POST");
    assertThat(recorded.getTarget()).isEqualTo("/agent/leave");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Backend-ID")).isEqualTo("b1");
    assertThat(recorded.getHeaders().get("Content-Length")).isEqualTo("0");
    assertThat(recorded.getBody().size()).isZero();
  }

  @Test
  void aLeaveAnsweredOtherwiseWasNotTaken() {
    // A reference proxy takes any call for a list call: 200 is not a goodbye taken.
    proxy.enqueue(new MockResponse.Builder().body("[]").build());

    assertThatThrownBy(() -> client.leave())
        .isInstanceOfSatisfying(
            ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(200))
        .hasMessage("POST agent/leave: the proxy answered 200, not 204");
  }
}
