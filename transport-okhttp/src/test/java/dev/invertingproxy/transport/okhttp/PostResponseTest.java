package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code POST agent/response} through core's {@link ProxyClient} over the OkHttp transport. */
class PostResponseTest {
  private static final String HEAD = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  private static final String BODY = "5\r\nhello\r\n0\r\n\r\n";

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
  void streamsTheExactBytesChunked() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("").build());

    client.postResponse(
        "r1",
        out -> {
          out.write(HEAD.getBytes(UTF_8));
          out.flush();
          out.write(BODY.getBytes(UTF_8), 0, 3);
          out.flush();
          out.write(BODY.getBytes(UTF_8), 3, BODY.length() - 3);
          out.close(); // must not end the request body early nor break the call
        });

    RecordedRequest recorded = proxy.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("POST");
    assertThat(recorded.getTarget()).isEqualTo("/agent/response");
    assertThat(recorded.getHeaders().get("Transfer-Encoding")).isEqualTo("chunked");
    assertThat(recorded.getHeaders().get("Content-Length")).isNull();
    assertThat(recorded.getHeaders().get("Content-Type")).isEqualTo("text/plain");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Backend-ID")).isEqualTo("b1");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Request-ID")).isEqualTo("r1");
    assertThat(recorded.getBody().utf8()).isEqualTo(HEAD + BODY);
    // Every flush went out as its own chunk.
    assertThat(recorded.getChunkSizes()).containsExactly(HEAD.length(), 3, BODY.length() - 3);
  }

  @Test
  void writerFailureAbortsTheBody() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("").build());

    assertThatThrownBy(
            () ->
                client.postResponse(
                    "r1",
                    out -> {
                      out.write(HEAD.getBytes(UTF_8));
                      out.flush();
                      throw new IOException("backend went away");
                    }))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("backend went away");

    RecordedRequest recorded = proxy.takeRequest(5, TimeUnit.SECONDS);
    assertThat(recorded).isNotNull();
    assertThat(recorded.getFailure()).as("the proxy saw an incomplete body").isNotNull();
  }

  @Test
  void writerRuntimeExceptionAlsoAbortsTheBody() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("").build());

    assertThatThrownBy(
            () ->
                client.postResponse(
                    "r1",
                    out -> {
                      out.write(HEAD.getBytes(UTF_8));
                      out.flush();
                      throw new IllegalStateException("bug");
                    }))
        .isInstanceOf(IOException.class)
        .hasRootCauseInstanceOf(IllegalStateException.class);

    RecordedRequest recorded = proxy.takeRequest(5, TimeUnit.SECONDS);
    assertThat(recorded).isNotNull();
    assertThat(recorded.getFailure()).isNotNull();
  }

  @Test
  void serverErrorIsAProxyCallException() {
    proxy.enqueue(new MockResponse.Builder().code(500).body("boom").build());

    assertThatThrownBy(() -> client.postResponse("r1", out -> out.write('x')))
        .isInstanceOfSatisfying(
            ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(500))
        .hasMessageContaining("boom");
  }

  @Test
  void connectionIsReusedAfterASuccessfulPost() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("ignored response text").build());
    proxy.enqueue(new MockResponse.Builder().body("").build());

    client.postResponse("r1", out -> out.write('x'));
    client.postResponse("r2", out -> out.write('y'));

    RecordedRequest first = proxy.takeRequest();
    RecordedRequest second = proxy.takeRequest();
    assertThat(second.getConnectionIndex()).isEqualTo(first.getConnectionIndex());
  }
}
