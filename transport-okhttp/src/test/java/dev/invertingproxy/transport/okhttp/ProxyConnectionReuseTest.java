package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A proxy, or a load balancer in front of it, closes idle keep-alive connections; a call can
 * cross the close. Polls may be sent again (the proxy offers again what a lost poll held);
 * a response post is never sent twice (its body streams once from the backend).
 */
class ProxyConnectionReuseTest {
  @StartStop final MockWebServer proxy = new MockWebServer();

  private OkHttpAgentTransport transport;
  private ProxyClient client;

  @BeforeEach
  void setUp() {
    transport = OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy));
    client = TestConfigs.client(transport);
    // One answered poll, then the proxy closes that connection when the next call arrives on it.
    proxy.enqueue(new MockResponse.Builder().body("[]").build());
    proxy.enqueue(new MockResponse.Builder().onResponseStart(new SocketEffect.CloseSocket()).build());
  }

  @AfterEach
  void tearDown() {
    transport.close();
  }

  private List<String> listPending() throws IOException {
    return client.listPending(new CancelSignal()).ids();
  }

  @Test
  void aPollOnAConnectionTheProxyClosedIsSentAgain() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("[\"a\"]").build());
    assertThat(listPending()).isEmpty();

    assertThat(listPending()).containsExactly("a");

    RecordedRequest first = proxy.takeRequest();
    RecordedRequest lost = proxy.takeRequest();
    RecordedRequest again = proxy.takeRequest();
    assertThat(lost.getConnectionIndex()).isEqualTo(first.getConnectionIndex());
    assertThat(again.getConnectionIndex()).isNotEqualTo(first.getConnectionIndex());
  }

  @Test
  void aNextPollIsSentAgainToo() throws Exception {
    proxy.enqueue(new MockResponse.Builder().code(204).build());
    assertThat(listPending()).isEmpty();

    assertThat(client.next(new CancelSignal()).claimed()).isEmpty();
    assertThat(proxy.getRequestCount()).isEqualTo(3);
  }

  @Test
  void aResponsePostIsNotSentTwice() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("").build());
    assertThat(listPending()).isEmpty();

    assertThatThrownBy(
            () ->
                client.postResponse(
                    "r1", out -> out.write("HTTP/1.1 200 OK\r\n\r\n".getBytes(UTF_8))))
        .isInstanceOf(IOException.class);
    assertThat(proxy.getRequestCount()).isEqualTo(2);
  }
}
