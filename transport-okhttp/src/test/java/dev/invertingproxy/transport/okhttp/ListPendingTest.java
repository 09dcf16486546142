package dev.invertingproxy.transport.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.Headers;
import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.core.protocol.RequestIdList;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code GET agent/pending} through core's {@link ProxyClient} over the OkHttp transport. */
class ListPendingTest {
  @StartStop final MockWebServer proxy = new MockWebServer();

  private OkHttpAgentTransport transport;
  private ProxyClient client;

  @BeforeEach
  void setUp() {
    transport = OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy));
    client = TestConfigs.client(transport);
  }

  private static List<String> listPending(ProxyClient client) throws IOException {
    return client.listPending(new CancelSignal()).ids();
  }

  @AfterEach
  void tearDown() {
    transport.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"[]", "null", "", "  \r\n\t", " null \n", "[ ]"})
  void noWork(String body) throws Exception {
    proxy.enqueue(new MockResponse.Builder().body(body).build());

    assertThat(listPending(client)).isEmpty();
  }

  @Test
  void ids() throws Exception {
    proxy.enqueue(new MockResponse.Builder().body("[\"a\",\"b\"]").build());

    assertThat(listPending(client)).containsExactly("a", "b");

    RecordedRequest recorded = proxy.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("GET");
    assertThat(recorded.getTarget()).isEqualTo("/agent/pending");
    assertThat(recorded.getHeaders().get("X-Inverting-Proxy-Backend-ID")).isEqualTo("b1");
  }

  @Test
  void chunkedBody() throws Exception {
    proxy.enqueue(new MockResponse.Builder().chunkedBody("[\"a\", \"b\", \"c\"]", 3).build());

    assertThat(listPending(client)).containsExactly("a", "b", "c");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"{\"a\":1}", "[1]", "[\"a\",null]", "\"a\"", "[\"a\"", "[\"a\"] x", "nul"})
  void malformedBodyIsAnIoException(String body) {
    proxy.enqueue(new MockResponse.Builder().body(body).build());

    assertThatThrownBy(() -> listPending(client))
        .isInstanceOf(IOException.class)
        .isNotInstanceOf(ProxyCallException.class)
        .hasMessageContaining("agent/pending");
  }

  @Test
  void non200IsAProxyCallExceptionWithTheStatusAndBodyStart() {
    proxy.enqueue(
        new MockResponse.Builder()
            .code(401)
            .body("Backend user not allowed" + "x".repeat(500))
            .build());

    assertThatThrownBy(() -> listPending(client))
        .isInstanceOfSatisfying(
            ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(401))
        .hasMessageContaining("401")
        .hasMessageContaining("Backend user not allowed")
        .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(300));
  }

  @Test
  void redirectIsNotFollowed() {
    proxy.enqueue(
        new MockResponse.Builder().code(302).setHeader("Location", "/elsewhere/").build());
    proxy.enqueue(new MockResponse.Builder().body("[\"wrong\"]").build());

    assertThatThrownBy(() -> listPending(client))
        .isInstanceOfSatisfying(
            ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(302));
    assertThat(proxy.getRequestCount()).isEqualTo(1);
  }

  @Test
  void backendIdAndProxyHeadersOnEveryCallAskedPerCall() throws Exception {
    AtomicInteger token = new AtomicInteger();
    try (OkHttpAgentTransport authed =
        OkHttpAgentTransport.create(
            TestConfigs.config(
                TestConfigs.uri(proxy, "/"),
                TestConfigs.UNUSED_BACKEND,
                () ->
                    Headers.of(
                        "Authorization",
                        "Bearer t" + token.incrementAndGet(),
                        "X-Inverting-Proxy-VM-ID",
                        "vm")))) {
      proxy.enqueue(new MockResponse.Builder().body("[]").build());
      proxy.enqueue(new MockResponse.Builder().body("[]").build());

      ProxyClient authedClient = TestConfigs.client(authed);
      listPending(authedClient);
      listPending(authedClient);

      for (String expected : List.of("Bearer t1", "Bearer t2")) {
        RecordedRequest recorded = proxy.takeRequest();
        assertThat(recorded.getHeaders().get("Authorization")).isEqualTo(expected);
        assertThat(recorded.getHeaders().get("X-Inverting-Proxy-VM-ID")).isEqualTo("vm");
        assertThat(recorded.getHeaders().values("X-Inverting-Proxy-Backend-ID"))
            .containsExactly("b1");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"/base/", "/base"})
  void urlsResolveAgainstABasePath(String basePath) throws Exception {
    URI base = TestConfigs.uri(proxy, basePath);
    try (OkHttpAgentTransport based =
        OkHttpAgentTransport.create(
            TestConfigs.config(base, TestConfigs.UNUSED_BACKEND, Headers::empty))) {
      proxy.enqueue(new MockResponse.Builder().body("[]").build());
      proxy.enqueue(new MockResponse.Builder().body("").build());
      proxy.enqueue(new MockResponse.Builder().build());

      ProxyClient basedClient = TestConfigs.client(based);
      listPending(basedClient);
      basedClient.read("r1").close();
      basedClient.postResponse("r1", out -> out.write('x'));

      assertThat(proxy.takeRequest().getTarget()).isEqualTo("/base/agent/pending");
      assertThat(proxy.takeRequest().getTarget()).isEqualTo("/base/agent/request");
      assertThat(proxy.takeRequest().getTarget()).isEqualTo("/base/agent/response");
    }
  }

  @Test
  void proxyWithoutPathGetsRootSlash() throws Exception {
    URI base = URI.create("http://127.0.0.1:" + proxy.getPort());
    try (OkHttpAgentTransport rooted =
        OkHttpAgentTransport.create(
            TestConfigs.config(base, TestConfigs.UNUSED_BACKEND, Headers::empty))) {
      proxy.enqueue(new MockResponse.Builder().body("[]").build());

      listPending(TestConfigs.client(rooted));

      assertThat(proxy.takeRequest().getTarget()).isEqualTo("/agent/pending");
    }
  }

  @Test
  void bodyOverOneMebibyteIsRefused() {
    StringBuilder big = new StringBuilder("[");
    while (big.length() <= RequestIdList.MAX_BYTES) {
      big.append("\"0123456789abcdef0123456789abcdef\",");
    }
    big.append("\"end\"]");
    proxy.enqueue(new MockResponse.Builder().body(big.toString()).build());

    assertThatThrownBy(() -> listPending(client))
        .isInstanceOf(IOException.class)
        .isNotInstanceOf(ProxyCallException.class)
        .hasMessageContaining("exceeds");
  }

  @Test
  void bodyOfExactlyOneMebibyteIsAccepted() throws Exception {
    String ids = "[\"a\"]";
    String padded = ids + " ".repeat(RequestIdList.MAX_BYTES - ids.length());
    proxy.enqueue(new MockResponse.Builder().body(padded).build());

    assertThat(listPending(client)).containsExactly("a");
  }

  @Test
  void proxyClientIsConfiguredForLongPolls() throws Exception {
    // The config's poll timeout is 2 s, so the read timeout is 2 s + 5 s.
    assertThat(transport.proxyClient().readTimeoutMillis()).isEqualTo(7_000);
    assertThat(transport.proxyClient().callTimeoutMillis()).isZero();
    assertThat(transport.proxyClient().followRedirects()).isFalse();
    assertThat(transport.proxyClient().followSslRedirects()).isFalse();
    assertThat(transport.proxyClient().retryOnConnectionFailure()).isFalse();
    proxy.enqueue(
        new MockResponse.Builder()
            .body("[\"late\"]")
            .headersDelay(100, TimeUnit.MILLISECONDS)
            .build());

    assertThat(listPending(client)).containsExactly("late");
  }
}
