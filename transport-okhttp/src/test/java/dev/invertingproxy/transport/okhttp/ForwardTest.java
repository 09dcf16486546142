package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ForwardTest {
  @StartStop final MockWebServer backend = new MockWebServer();

  private OkHttpAgentTransport transport;

  @BeforeEach
  void setUp() {
    transport = OkHttpAgentTransport.create(TestConfigs.backendConfig(backend));
  }

  @AfterEach
  void tearDown() {
    transport.close();
  }

  /** Returns a request head with header lines like {@code "Name: value"}, in order. */
  private static RequestHead head(String method, String target, String... lines) {
    Headers.Builder headers = Headers.builder();
    for (String line : lines) {
      int colon = line.indexOf(':');
      headers.add(line.substring(0, colon), line.substring(colon + 1).strip());
    }
    return new RequestHead(method, target, "HTTP/1.1", headers.build());
  }

  private static List<String> lines(okhttp3.Headers headers) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < headers.size(); i++) {
      lines.add(headers.name(i) + ": " + headers.value(i));
    }
    return lines;
  }

  private static List<String> lines(Headers headers) {
    List<String> lines = new ArrayList<>();
    headers.fields().forEach(h -> lines.add(h.name() + ": " + h.value()));
    return lines;
  }

  private static MessageBody stream(byte[] bytes, long length) {
    return MessageBody.of(new ByteArrayInputStream(bytes), length, Headers::empty);
  }

  @Test
  void headersArriveExactlyAsGivenAndNothingIsAdded() throws Exception {
    backend.enqueue(new MockResponse.Builder().body("ok").build());
    RequestHead head =
        head(
            "GET",
            "/index.html",
            "Host: public.example.com",
            "x-lower: 1",
            "X-UPPER: 2",
            "X-Dup: a",
            "accept: */*",
            "X-Dup: b",
            "Cookie: c=1",
            "X-Empty:");

    try (BackendResponse response = transport.forward(head, MessageBody.empty())) {
      assertThat(response.head().status()).isEqualTo(200);
      assertThat(response.body().stream().readAllBytes()).isEqualTo("ok".getBytes(UTF_8));
    }

    RecordedRequest recorded = backend.takeRequest();
    assertThat(recorded.getRequestLine()).isEqualTo("GET /index.html HTTP/1.1");
    assertThat(lines(recorded.getHeaders())).containsExactlyElementsOf(lines(head.headers()));
  }

  @Test
  void rawTargetIsSentUnchanged() throws Exception {
    String target = "/a%2Fb/c%2e;p=1?q=%20x&r=a+b&s=%2F&t=&=u";
    backend.enqueue(new MockResponse.Builder().build());

    transport.forward(head("GET", target, "Host: h"), MessageBody.empty()).close();

    assertThat(backend.takeRequest().getTarget()).isEqualTo(target);
  }

  @Test
  void absoluteFormTargetContributesItsPathAndQuery() throws Exception {
    backend.enqueue(new MockResponse.Builder().build());

    transport
        .forward(head("GET", "http://public.example/p%2Fq?x=1", "Host: h"), MessageBody.empty())
        .close();

    assertThat(backend.takeRequest().getTarget()).isEqualTo("/p%2Fq?x=1");
  }

  @Test
  void asteriskTargetIsRefused() {
    assertThatThrownBy(
            () -> transport.forward(head("OPTIONS", "*", "Host: h"), MessageBody.empty()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("origin form");
  }

  @Test
  void postBodyWithContentLengthAtItsOriginalPosition() throws Exception {
    backend.enqueue(new MockResponse.Builder().build());
    byte[] bytes = "{\"a\":1}\r\n\0\u00ff".getBytes(UTF_8);
    RequestHead head =
        head(
            "POST",
            "/submit",
            "Host: public.example.com",
            "content-length: " + Integer.toString(bytes.length),
            "Content-Type: application/json");

    transport.forward(head, stream(bytes, bytes.length)).close();

    RecordedRequest recorded = backend.takeRequest();
    assertThat(lines(recorded.getHeaders())).containsExactlyElementsOf(lines(head.headers()));
    assertThat(recorded.getBody().toByteArray()).isEqualTo(bytes);
    assertThat(recorded.getChunkSizes()).isNull();
  }

  @Test
  void bodyOfUnknownLengthIsSentChunked() throws Exception {
    backend.enqueue(new MockResponse.Builder().build());
    byte[] bytes = "x".repeat(40_000).getBytes(UTF_8);
    RequestHead head =
        head(
            "PUT",
            "/upload",
            "Host: public.example.com",
            "Transfer-Encoding: chunked",
            "X-After: 1");

    transport.forward(head, stream(bytes, -1)).close();

    RecordedRequest recorded = backend.takeRequest();
    assertThat(lines(recorded.getHeaders())).containsExactlyElementsOf(lines(head.headers()));
    assertThat(recorded.getChunkSizes()).isNotEmpty();
    assertThat(recorded.getBody().toByteArray()).isEqualTo(bytes);
  }

  @Test
  void framingHeaderFollowsTheBody() throws Exception {
    backend.enqueue(new MockResponse.Builder().build());
    RequestHead head =
        head("POST", "/x", "Host: h", "Content-Length: 3", "X-A: 1", "Transfer-Encoding: chunked");

    transport.forward(head, stream("abc".getBytes(UTF_8), -1)).close();

    RecordedRequest recorded = backend.takeRequest();
    assertThat(lines(recorded.getHeaders()))
        .containsExactly("Host: h", "Transfer-Encoding: chunked", "X-A: 1");
    assertThat(recorded.getBody().utf8()).isEqualTo("abc");
  }

  @Test
  void emptyBodyWithoutFramingHeaderAddsNone() throws Exception {
    backend.enqueue(new MockResponse.Builder().build());
    backend.enqueue(new MockResponse.Builder().build());

    transport.forward(head("POST", "/x", "Host: h"), MessageBody.empty()).close();
    transport
        .forward(head("DELETE", "/x", "Host: h", "Content-Length: 0"), MessageBody.empty())
        .close();

    assertThat(lines(backend.takeRequest().getHeaders())).containsExactly("Host: h");
    assertThat(lines(backend.takeRequest().getHeaders()))
        .containsExactly("Host: h", "Content-Length: 0");
  }

  @Test
  void missingHostGetsTheBackendAuthority() throws Exception {
    backend.enqueue(new MockResponse.Builder().build());

    transport.forward(head("GET", "/", "Accept: */*"), MessageBody.empty()).close();

    assertThat(lines(backend.takeRequest().getHeaders()))
        .containsExactly("Host: 127.0.0.1:" + backend.getPort(), "Accept: */*");
  }

  @Test
  void getWithAnEmptyChunkedBodyIsSentWithoutBody() throws Exception {
    backend.enqueue(new MockResponse.Builder().build());

    transport
        .forward(head("GET", "/", "Host: h", "Transfer-Encoding: chunked"), stream(new byte[0], -1))
        .close();

    RecordedRequest recorded = backend.takeRequest();
    assertThat(lines(recorded.getHeaders())).containsExactly("Host: h", "Content-Length: 0");
    assertThat(recorded.getFailure()).isNull();
  }

  @Test
  void getWithABodyIsRefused() {
    assertThatThrownBy(
            () ->
                transport.forward(
                    head("GET", "/", "Host: h", "Content-Length: 3"),
                    stream("abc".getBytes(UTF_8), 3)))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("GET request with a body");
    assertThat(backend.getRequestCount()).isZero();
  }

  @Test
  void bodyShorterThanDeclaredFailsTheCall() {
    backend.enqueue(new MockResponse.Builder().build());

    assertThatThrownBy(
            () ->
                transport.forward(
                    head("POST", "/", "Host: h", "Content-Length: 10"),
                    stream("abc".getBytes(UTF_8), 10)))
        .isInstanceOf(IOException.class);
  }

  @Test
  void redirectIsRelayedNotFollowed() throws Exception {
    backend.enqueue(
        new MockResponse.Builder()
            .code(301)
            .setHeader("Location", "/moved")
            .body("see /moved")
            .build());
    backend.enqueue(new MockResponse.Builder().body("wrong").build());

    try (BackendResponse response =
        transport.forward(
            head("POST", "/old", "Host: h", "Content-Length: 1"), stream(new byte[] {1}, 1))) {
      assertThat(response.head().status()).isEqualTo(301);
      assertThat(response.head().headers().first("Location")).hasValue("/moved");
      assertThat(response.body().stream().readAllBytes()).isEqualTo("see /moved".getBytes(UTF_8));
    }
    assertThat(backend.getRequestCount()).isEqualTo(1);
  }

  @Test
  void responseHeadIsExactlyAsReceived() throws Exception {
    okhttp3.Headers sent =
        new okhttp3.Headers.Builder()
            .add("x-lower", "1")
            .add("Set-Cookie", "a=1")
            .add("X-UPPER", "2")
            .add("Set-Cookie", "b=2")
            .add("Content-Length", "2")
            .build();
    backend.enqueue(
        new MockResponse.Builder()
            .status("HTTP/1.1 299 Custom Reason")
            .headers(sent)
            .body("ok")
            .build());

    try (BackendResponse response =
        transport.forward(head("GET", "/", "Host: h"), MessageBody.empty())) {
      assertThat(response.head().version()).isEqualTo("HTTP/1.1");
      assertThat(response.head().status()).isEqualTo(299);
      assertThat(response.head().reason()).isEqualTo("Custom Reason");
      assertThat(lines(response.head().headers())).containsExactlyElementsOf(lines(sent));
      assertThat(response.body().contentLength()).isEqualTo(2);
    }
  }

  @Test
  void gzipResponseIsReturnedRaw() throws Exception {
    byte[] plain = "hello hello hello hello".getBytes(UTF_8);
    ByteArrayOutputStream compressed = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(compressed)) {
      gzip.write(plain);
    }
    byte[] gzipped = compressed.toByteArray();
    backend.enqueue(
        new MockResponse.Builder()
            .addHeader("Content-Encoding", "gzip")
            .body(new Buffer().write(gzipped))
            .build());

    try (BackendResponse response =
        transport.forward(head("GET", "/", "Host: h"), MessageBody.empty())) {
      assertThat(response.head().headers().first("Content-Encoding")).hasValue("gzip");
      assertThat(response.head().headers().first("Content-Length"))
          .hasValue(Integer.toString(gzipped.length));
      assertThat(response.body().contentLength()).isEqualTo(gzipped.length);
      assertThat(response.body().stream().readAllBytes()).isEqualTo(gzipped);
    }
    assertThat(backend.takeRequest().getHeaders().get("Accept-Encoding")).isNull();
  }

  @Test
  void trailersAreVisibleAfterTheBodyWasRead() throws Exception {
    backend.enqueue(
        new MockResponse.Builder()
            .chunkedBody("streamed body", 4)
            .trailers(okhttp3.Headers.of("X-Checksum", "abc", "x-second", "2"))
            .build());

    try (BackendResponse response =
        transport.forward(head("GET", "/", "Host: h"), MessageBody.empty())) {
      assertThat(response.body().contentLength()).isEqualTo(-1);
      assertThat(response.body().trailers().isEmpty()).isTrue();
      assertThat(new String(response.body().stream().readAllBytes(), UTF_8))
          .isEqualTo("streamed body");
      assertThat(lines(response.body().trailers()))
          .containsExactly("X-Checksum: abc", "x-second: 2");
    }
  }

  @Test
  void headResponseHasNoBody() throws Exception {
    backend.enqueue(new MockResponse.Builder().setHeader("Content-Length", "1234").build());
    backend.enqueue(new MockResponse.Builder().body("next").build());

    try (BackendResponse response =
        transport.forward(head("HEAD", "/big", "Host: h"), MessageBody.empty())) {
      assertThat(response.head().status()).isEqualTo(200);
      assertThat(response.head().headers().first("Content-Length")).hasValue("1234");
      assertThat(response.body().contentLength()).isZero();
      assertThat(response.body().stream().read()).isEqualTo(-1);
    }
    // The connection stays in sync for the next exchange.
    try (BackendResponse response =
        transport.forward(head("GET", "/", "Host: h"), MessageBody.empty())) {
      assertThat(response.body().stream().readAllBytes()).isEqualTo("next".getBytes(UTF_8));
    }
    assertThat(backend.takeRequest().getMethod()).isEqualTo("HEAD");
  }

  @Test
  void noContentResponseHasLengthZero() throws Exception {
    backend.enqueue(new MockResponse.Builder().code(204).removeHeader("Content-Length").build());

    try (BackendResponse response =
        transport.forward(head("DELETE", "/x", "Host: h"), MessageBody.empty())) {
      assertThat(response.head().status()).isEqualTo(204);
      assertThat(response.body().contentLength()).isZero();
    }
  }

  @Test
  void serviceUnavailableWithRetryAfterZeroIsRelayedNotRetried() throws Exception {
    backend.enqueue(new MockResponse.Builder().code(503).setHeader("Retry-After", "0").build());
    backend.enqueue(new MockResponse.Builder().body("wrong").build());

    try (BackendResponse response =
        transport.forward(head("GET", "/", "Host: h"), MessageBody.empty())) {
      assertThat(response.head().status()).isEqualTo(503);
      assertThat(response.head().headers().first("Retry-After")).hasValue("0");
    }
    assertThat(backend.getRequestCount()).isEqualTo(1);
  }

  @Test
  void proxyAuthenticationRequiredIsRelayed() throws Exception {
    backend.enqueue(
        new MockResponse.Builder()
            .status("HTTP/1.1 407 Proxy Authentication Required")
            .setHeader("Proxy-Authenticate", "Basic")
            .body("auth")
            .build());

    try (BackendResponse response =
        transport.forward(head("GET", "/", "Host: h"), MessageBody.empty())) {
      assertThat(response.head().status()).isEqualTo(407);
      assertThat(response.head().reason()).isEqualTo("Proxy Authentication Required");
      assertThat(response.body().stream().readAllBytes()).isEqualTo("auth".getBytes(UTF_8));
    }
  }

  @Test
  void unreachableBackendIsAnIoException() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = socket.getLocalPort();
    }
    URI closed = URI.create("http://127.0.0.1:" + port);
    try (OkHttpAgentTransport unreachable =
        OkHttpAgentTransport.create(
            TestConfigs.config(TestConfigs.UNUSED_BACKEND, closed, Headers::empty))) {
      assertThatThrownBy(
              () -> unreachable.forward(head("GET", "/", "Host: h"), MessageBody.empty()))
          .isInstanceOf(IOException.class);
    }
  }

  /**
   * Every backend closes idle keep-alive connections (nginx after 75 s, Node.js after 5 s); a
   * request sent on a pooled connection just as the backend closes it is read by nobody. This
   * makes that race certain: the backend reads the second request on the connection and closes it.
   */
  private void backendClosesTheSecondExchangeOfAConnection() {
    backend.enqueue(new MockResponse.Builder().body("one").build());
    backend.enqueue(
        new MockResponse.Builder().onResponseStart(new SocketEffect.CloseSocket()).build());
    backend.enqueue(new MockResponse.Builder().body("two").build());
  }

  private String get(String method, String... lines) throws IOException {
    BackendResponse response = transport.forward(head(method, "/", lines), MessageBody.empty());
    try (response) {
      return new String(response.body().stream().readAllBytes(), UTF_8);
    }
  }

  @Test
  void getOnAConnectionTheBackendClosedIsSentAgainOnAFreshOne() throws Exception {
    backendClosesTheSecondExchangeOfAConnection();
    assertThat(get("GET", "Host: h")).isEqualTo("one");

    assertThat(get("GET", "Host: h")).isEqualTo("two");

    assertThat(backend.getRequestCount()).isEqualTo(3);
    RecordedRequest first = backend.takeRequest();
    RecordedRequest lost = backend.takeRequest();
    RecordedRequest again = backend.takeRequest();
    assertThat(lost.getConnectionIndex()).isEqualTo(first.getConnectionIndex());
    assertThat(again.getConnectionIndex()).isNotEqualTo(first.getConnectionIndex());
  }

  @Test
  void bodylessRequestWithAnIdempotencyKeyIsSentAgain() throws Exception {
    backendClosesTheSecondExchangeOfAConnection();
    assertThat(get("GET", "Host: h")).isEqualTo("one");

    assertThat(get("POST", "Host: h", "Idempotency-Key: 8e03978e")).isEqualTo("two");

    assertThat(backend.getRequestCount()).isEqualTo(3);
    backend.takeRequest();
    RecordedRequest lost = backend.takeRequest();
    RecordedRequest again = backend.takeRequest();
    assertThat(again.getMethod()).isEqualTo("POST");
    assertThat(lines(again.getHeaders())).isEqualTo(lines(lost.getHeaders()));
  }

  @Test
  void requestTimeoutOfAReplayableRequestIsRelayedNotRepeated() throws Exception {
    backend.enqueue(
        new MockResponse.Builder().code(408).addHeader("Connection", "close").body("slow").build());
    backend.enqueue(new MockResponse.Builder().body("second").build());

    BackendResponse response = transport.forward(head("GET", "/", "Host: h"), MessageBody.empty());
    try (response) {
      assertThat(response.head().status()).isEqualTo(408);
      assertThat(new String(response.body().stream().readAllBytes(), UTF_8)).isEqualTo("slow");
    }
    assertThat(backend.getRequestCount()).isEqualTo(1);
  }

  @Test
  void postIsNotSentTwice() throws Exception {
    // The backend may have acted on it before the connection closed: the agent cannot know.
    backendClosesTheSecondExchangeOfAConnection();
    assertThat(get("GET", "Host: h")).isEqualTo("one");

    assertThatThrownBy(() -> get("POST", "Host: h")).isInstanceOf(IOException.class);

    assertThat(backend.getRequestCount()).isEqualTo(2);
  }

  @Test
  void requestWithABodyIsNotSentTwice() throws Exception {
    backendClosesTheSecondExchangeOfAConnection();
    assertThat(get("GET", "Host: h")).isEqualTo("one");

    byte[] bytes = "payload".getBytes(UTF_8);
    assertThatThrownBy(
            () ->
                transport
                    .forward(
                        head("PUT", "/", "Host: h", "Content-Length: 7", "Idempotency-Key: k"),
                        stream(bytes, bytes.length))
                    .close())
        .isInstanceOf(IOException.class);

    assertThat(backend.getRequestCount()).isEqualTo(2);
  }

  @Test
  void cancelAbortsABodyThatNeverEnds() throws Exception {
    backend.enqueue(
        new MockResponse.Builder()
            .body("0123456789abcdefghij")
            .onResponseBody(SocketEffect.Stall.INSTANCE)
            .build());

    BackendResponse response = transport.forward(head("GET", "/", "Host: h"), MessageBody.empty());
    InputStream body = response.body().stream();
    assertThat(body.readNBytes(10)).isEqualTo("0123456789".getBytes(UTF_8));

    CountDownLatch reading = new CountDownLatch(1);
    CompletableFuture<Integer> blocked =
        CompletableFuture.supplyAsync(
            () -> {
              reading.countDown();
              try {
                return body.read();
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            });
    assertThat(reading.await(5, TimeUnit.SECONDS)).isTrue();
    response.cancel();

    assertThatThrownBy(() -> blocked.get(5, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseInstanceOf(IOException.class);
    response.close();
  }

  @Test
  void backendClientIsConfiguredForStreams() {
    okhttp3.OkHttpClient client = transport.backendClient();
    assertThat(client.followRedirects()).isFalse();
    assertThat(client.retryOnConnectionFailure()).isFalse();
    assertThat(client.callTimeoutMillis()).isZero();
    // silence is bounded, length is not
    assertThat(client.readTimeoutMillis())
        .isEqualTo(transport.config().backendIdleTimeout().toMillis())
        .isPositive();
    assertThat(client.writeTimeoutMillis())
        .isEqualTo(transport.config().backendIdleTimeout().toMillis());
    assertThat(client.cache()).isNull();
    assertThat(client.cookieJar()).isSameAs(okhttp3.CookieJar.NO_COOKIES);
  }
}
