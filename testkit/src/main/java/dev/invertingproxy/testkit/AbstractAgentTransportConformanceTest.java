package dev.invertingproxy.testkit;

import static dev.invertingproxy.testkit.KitSupport.chunk;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.core.protocol.ProxyClient.Claimed;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import dev.invertingproxy.spi.CancelSignal;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The agent transport conformance kit: what every {@link AgentTransport} must do. A transport's
 * test extends this class and implements {@link #newTransport(AgentConfig)}; it is done when the
 * kit passes.
 *
 * <p>The kit starts two scripted servers on loopback, a fake proxy ({@link #proxy}) and a fake
 * backend ({@link #backend}), and checks the contract byte by byte: the three v1 calls made through
 * core's {@link ProxyClient} over the transport (URLs, headers, status handling, streaming in both
 * directions, an aborted post), and the exact forwarder
 * (request head as given, response head and raw body as received, nothing followed, nothing added).
 * Streaming is proven with latches, never with timing: a transport that buffers fails with a
 * message saying so.
 *
 * <p>Declare optional {@link #capabilities()} ({@link Capability#GET_WITH_BODY}) to run the tests
 * that need them; opt a test out only through {@link #knownGaps()}, with a reason the kit prints.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
public abstract class AbstractAgentTransportConformanceTest {
  /** The backend ID the kit's calls use. */
  protected static final String BACKEND_ID = "kit-backend";

  /** The bearer token the kit's {@link AgentConfig#proxyHeaders()} supply. */
  protected static final String TOKEN = "kit-token";

  private static final String START_TIME = "2026-01-02T03:04:05.123456789Z";

  /** The fake proxy; its handler answers 404 until a test scripts it. */
  protected ScriptedHttpServer proxy;

  /** The fake backend; its handler answers 404 until a test scripts it. */
  protected ScriptedHttpServer backend;

  /** A transport for {@link #proxy} at {@code /} and {@link #backend}. */
  protected AgentTransport transport;

  /** The protocol's client over {@link #transport}, for backend {@link #BACKEND_ID}. */
  protected ProxyClient client;

  private final List<AgentTransport> opened = new ArrayList<>();
  private final AtomicInteger proxyHeaderCalls = new AtomicInteger();
  private ExecutorService threads;

  /** Creates a transport for {@code config}; the kit closes it. */
  protected abstract AgentTransport newTransport(AgentConfig config);

  /** Returns the optional capabilities this transport offers. */
  protected Set<Capability> capabilities() {
    return Set.of();
  }

  /** Test method name → why this transport cannot pass it yet. Printed, and the test skipped. */
  protected Map<String, String> knownGaps() {
    return Map.of();
  }

  /**
   * Returns the configuration the kit uses: a poll timeout of 5 s, 4 requests in flight, and proxy
   * headers {@code Authorization: Bearer kit-token} and {@code X-Kit-Call: <n>}, where n counts the
   * supplier's calls (so the kit sees that they are asked for per call).
   */
  protected AgentConfig config(URI proxyBase, URI backendUri) {
    return AgentConfig.builder()
        .proxyUrl(proxyBase)
        .backendId(BACKEND_ID)
        .backendUrl(backendUri)
        .pollTimeout(Duration.ofSeconds(5))
        .maxInFlight(4)
        .proxyHeaders(
            () ->
                Headers.of(
                    "Authorization",
                    "Bearer " + TOKEN,
                    "X-Kit-Call",
                    Integer.toString(proxyHeaderCalls.incrementAndGet())))
        .build();
  }

  /** Returns the protocol's client over {@code transport}, as the agent makes it. */
  protected static ProxyClient client(AgentTransport transport, AgentConfig config) {
    return new ProxyClient(transport, config.backendId(), null, config.proxyHeaders());
  }

  /** Creates a transport that the kit closes after the test. */
  protected AgentTransport open(AgentConfig config) {
    AgentTransport created = newTransport(config);
    opened.add(created);
    return created;
  }

  @BeforeEach
  void startServers(TestInfo info) throws IOException {
    KitSupport.skipIfKnownGap("agent transport kit", knownGaps(), info);
    threads = Executors.newCachedThreadPool();
    proxy = new ScriptedHttpServer(ScriptedHttpServer.NOT_FOUND);
    backend = new ScriptedHttpServer(ScriptedHttpServer.NOT_FOUND);
    AgentConfig config = config(proxy.uri("/"), backend.uri(""));
    transport = open(config);
    client = client(transport, config);
  }

  @AfterEach
  void stopServers() throws IOException {
    for (AgentTransport each : opened) {
      each.close();
    }
    if (threads != null) {
      threads.shutdownNow();
    }
    if (proxy != null) {
      proxy.close();
    }
    if (backend != null) {
      backend.close();
    }
  }

  // ------------------------------------------------------------------ helpers

  private void require(Capability capability) {
    KitSupport.require(capabilities(), capability);
  }

  /** A fake proxy answering every call with 200 and {@code body} (Content-Length). */
  private static ScriptedHttpServer.Handler answer(String body) {
    return exchange ->
        exchange.respond(200, "OK", Headers.of("Content-Type", "application/json"), body);
  }

  private static RequestHead head(String method, String target, String... namesAndValues) {
    return new RequestHead(method, target, "HTTP/1.1", Headers.of(namesAndValues));
  }

  private static MessageBody body(String text, long length) {
    return MessageBody.of(
        new ByteArrayInputStream(text.getBytes(ISO_8859_1)), length, Headers::empty);
  }

  private static String text(InputStream in) throws IOException {
    return new String(in.readAllBytes(), ISO_8859_1);
  }

  private static String text(InputStream in, int n) throws IOException {
    return new String(in.readNBytes(n), ISO_8859_1);
  }

  private static List<String> lines(Headers headers) {
    List<String> lines = new ArrayList<>();
    for (Header field : headers.fields()) {
      lines.add(field.name() + ": " + field.value());
    }
    return lines;
  }

  private static void await(CountDownLatch latch, String what) throws InterruptedException {
    if (!latch.await(10, TimeUnit.SECONDS)) {
      fail("timed out after 10 s waiting until " + what);
    }
  }

  // ------------------------------------------------------------------ agent/pending

  @Test
  @DisplayName("listPending: [], null, an empty body and whitespace all mean no work")
  void listPendingNoWork() throws Exception {
    for (String body : List.of("[]", "null", "", " null \n", "[ ]")) {
      proxy.handler(answer(body));
      assertThat(client.listPending(new CancelSignal()).ids()).as("answer '%s'", body).isEmpty();
    }
  }

  @Test
  @DisplayName("listPending: a JSON array of IDs, with Content-Length or chunked")
  void listPendingIds() throws Exception {
    proxy.handler(answer("[\"a\",\"b\"]"));
    assertThat(client.listPending(new CancelSignal()).ids()).containsExactly("a", "b");

    proxy.handler(
        exchange ->
            exchange.write(
                "HTTP/1.1 200 OK\r\n"
                    + "Content-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n"
                    + chunk("[\"0f1e2d\", ")
                    + chunk("\"x-y_z\"]")
                    + "0\r\n\r\n"));
    assertThat(client.listPending(new CancelSignal()).ids()).containsExactly("0f1e2d", "x-y_z");
  }

  @Test
  @DisplayName("listPending: a malformed answer is an IOException, never taken for no work")
  void listPendingMalformed() {
    for (String body : List.of("{\"a\":1}", "[1]", "[\"a\"", "nul", "\"a\"")) {
      proxy.handler(answer(body));
      assertThatThrownBy(() -> client.listPending(new CancelSignal()).ids())
          .as("answer '%s'", body)
          .isInstanceOf(IOException.class)
          .isNotInstanceOf(ProxyCallException.class);
    }
  }

  // ------------------------------------------------------------------ the transport's own call

  @Test
  @DisplayName("call: the headers are sent as given, each field once, in order; the answer as received")
  void callSendsHeadersAsGiven() throws Exception {
    proxy.handler(
        exchange -> exchange.respond(299, "Odd", Headers.of("X-Answer", "a", "X-Answer", "b"), "body"));
    Headers given =
        Headers.of("X-One", "1", "X-Twice", "first", "X-Twice", "second", "X-Inverting-Proxy-Agent-ID", "agent-1");
    try (AgentTransport.ProxyAnswer answer =
        transport.call(
            new AgentTransport.ProxyCall("GET", "agent/pending", given, null, Duration.ZERO),
            new CancelSignal())) {
      assertThat(answer.status()).isEqualTo(299);
      assertThat(answer.message()).isEqualTo("Odd");
      assertThat(answer.headers().all("X-Answer")).containsExactly("a", "b");
      assertThat(text(answer.body())).isEqualTo("body");
    }
    RequestHead head = proxy.takeRequest();
    assertThat(head.method() + " " + head.target()).isEqualTo("GET /agent/pending");
    assertThat(head.headers().all("X-One")).containsExactly("1");
    assertThat(head.headers().all("X-Twice")).containsExactly("first", "second");
    assertThat(head.headers().all("X-Inverting-Proxy-Agent-ID")).containsExactly("agent-1");
  }

  @Test
  @DisplayName("call: a POST without a body sends an empty one")
  void callPostWithoutBody() throws Exception {
    proxy.handler(
        exchange -> {
          exchange.readBody();
          exchange.respond(204, "No Content", Headers.empty(), "");
        });
    try (AgentTransport.ProxyAnswer answer =
        transport.call(
            new AgentTransport.ProxyCall("POST", "agent/leave", Headers.empty(), null, Duration.ZERO),
            new CancelSignal())) {
      assertThat(answer.status()).isEqualTo(204);
    }
    RequestHead head = proxy.takeRequest();
    assertThat(head.method()).isEqualTo("POST");
    boolean emptyByLength = head.headers().all("Content-Length").equals(List.of("0"));
    boolean emptyChunked = head.headers().first("Transfer-Encoding").orElse("").equalsIgnoreCase("chunked");
    assertThat(emptyByLength || emptyChunked)
        .as("framed as an empty body: %s", head.headers())
        .isTrue();
  }

  @Test
  @DisplayName("call: its time-out bounds the whole call (a goodbye must not hold up a stop)")
  void callTimeoutBoundsTheCall() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    proxy.handler(
        exchange -> {
          try {
            release.await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          exchange.respond(204, "No Content", Headers.empty(), "");
        });
    long start = System.nanoTime();
    try {
      assertThatThrownBy(
              () ->
                  transport
                      .call(
                          new AgentTransport.ProxyCall(
                              "POST", "agent/leave", Headers.empty(), null, Duration.ofMillis(300)),
                          new CancelSignal())
                      .close())
          .isInstanceOf(IOException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .as("bounded by the call's time-out, not the poll time-out (5 s)")
          .isLessThan(Duration.ofSeconds(4));
    } finally {
      release.countDown();
    }
  }

  // ------------------------------------------------------------------ all three calls

  @Test
  @DisplayName("every proxy call carries the backend ID and the proxy headers, asked for per call")
  void proxyCallHeaders() throws Exception {
    proxy.handler(
        exchange -> {
          String path = exchange.head().target();
          if (path.endsWith("agent/pending")) {
            exchange.respond(200, "OK", Headers.empty(), "[]");
          } else if (path.endsWith("agent/request")) {
            exchange.respond(
                200,
                "OK",
                Headers.of("X-Inverting-Proxy-Request-Start-Time", START_TIME),
                "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
          } else {
            exchange.readBody();
            exchange.respond(200, "OK", Headers.empty(), "");
          }
        });

    client.listPending(new CancelSignal()).ids();
    try (Claimed read = client.read("r1")) {
      read.wire().readAllBytes();
    }
    client.postResponse("r1", out -> out.write('x'));

    List<String> calls = new ArrayList<>();
    for (String expected :
        List.of("GET /agent/pending", "GET /agent/request", "POST /agent/response")) {
      RequestHead head = proxy.takeRequest();
      calls.add(head.headers().first("X-Kit-Call").orElse("missing"));
      assertThat(head.method() + " " + head.target()).isEqualTo(expected);
      assertThat(head.version()).isEqualTo("HTTP/1.1");
      assertThat(head.headers().all("X-Inverting-Proxy-Backend-ID"))
          .as(expected)
          .containsExactly(BACKEND_ID);
      assertThat(head.headers().all("Authorization"))
          .as(expected)
          .containsExactly("Bearer " + TOKEN);
      if (expected.startsWith("GET /agent/pending")) {
        assertThat(head.headers().contains("X-Inverting-Proxy-Request-ID")).as(expected).isFalse();
      } else {
        assertThat(head.headers().all("X-Inverting-Proxy-Request-ID"))
            .as(expected)
            .containsExactly("r1");
      }
    }
    assertThat(calls)
        .as("X-Kit-Call: the proxy headers are asked for on each call")
        .doesNotHaveDuplicates();
    assertThat(calls).doesNotContain("missing");
  }

  @Test
  @DisplayName("URLs are joined under the proxy's base path: /base/ + agent/pending")
  void urlsUnderBasePath() throws Exception {
    proxy.handler(
        exchange -> {
          exchange.readBody();
          exchange.respond(
              200, "OK", Headers.empty(), exchange.head().target().endsWith("pending") ? "[]" : "");
        });
    for (String base : List.of("/base/", "/base", "/a%20b/c/")) {
      AgentConfig config = config(proxy.uri(base), backend.uri(""));
      ProxyClient based = client(open(config), config);
      based.listPending(new CancelSignal());
      based.read("r1").close();
      based.postResponse("r1", out -> out.write('x'));
      String expected = base.endsWith("/") ? base : base + "/";
      assertThat(proxy.takeRequest().target()).isEqualTo(expected + "agent/pending");
      assertThat(proxy.takeRequest().target()).isEqualTo(expected + "agent/request");
      assertThat(proxy.takeRequest().target()).isEqualTo(expected + "agent/response");
    }
  }

  @Test
  @DisplayName("a status other than 200 is a ProxyCallException with that status, on every call")
  void non200IsProxyCallException() {
    for (int status : List.of(401, 404, 409, 500, 503)) {
      proxy.handler(
          exchange -> {
            exchange.readBody();
            exchange.respond(status, "Whatever", Headers.empty(), "refused because of reasons\n");
          });
      assertThatThrownBy(() -> client.listPending(new CancelSignal()).ids())
          .isInstanceOfSatisfying(
              ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(status));
      assertThatThrownBy(() -> client.read("r1").close())
          .isInstanceOfSatisfying(
              ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(status));
      assertThatThrownBy(() -> client.postResponse("r1", out -> out.write('x')))
          .isInstanceOfSatisfying(
              ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(status));
    }
  }

  @Test
  @DisplayName("redirects from the proxy are never followed: a ProxyCallException with the 3xx")
  void proxyRedirectsNotFollowed() {
    for (int status : List.of(302, 307, 308)) {
      int before = proxy.requestCount();
      proxy.handler(
          exchange -> {
            if (exchange.head().target().startsWith("/elsewhere")) {
              exchange.readBody();
              exchange.respond(200, "OK", Headers.empty(), "[\"wrong\"]");
            } else {
              exchange.readBody();
              exchange.respond(
                  status,
                  "Moved",
                  Headers.of("Location", "/elsewhere" + exchange.head().target()),
                  "");
            }
          });
      assertThatThrownBy(() -> client.listPending(new CancelSignal()).ids())
          .isInstanceOfSatisfying(
              ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(status));
      assertThatThrownBy(() -> client.read("r1").close())
          .isInstanceOfSatisfying(
              ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(status));
      assertThatThrownBy(() -> client.postResponse("r1", out -> out.write('x')))
          .isInstanceOfSatisfying(
              ProxyCallException.class, e -> assertThat(e.status()).isEqualTo(status));
      assertThat(proxy.requestCount() - before).as("requests for " + status).isEqualTo(3);
    }
  }

  // ------------------------------------------------------------------ agent/request

  @Test
  @DisplayName("readRequest returns the proxy's headers and streams the body as it arrives")
  void readRequestStreams() throws Exception {
    String first = "POST /x HTTP/1.1\r\nHost: public.example\r\nContent-Length: 10\r\n\r\nhello";
    String second = "world";
    CountDownLatch released = new CountDownLatch(1);
    AtomicBoolean buffered = new AtomicBoolean();
    proxy.handler(
        exchange -> {
          exchange.write(
              "HTTP/1.1 200 OK\r\nX-Inverting-Proxy-Request-ID: r1\r\n"
                  + "X-Inverting-Proxy-Request-Start-Time: "
                  + START_TIME
                  + "\r\n"
                  + "X-Inverting-Proxy-User-ID: someone@example.com\r\n"
                  + "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + chunk(first));
          if (!released.await(5, TimeUnit.SECONDS)) {
            buffered.set(true);
          }
          exchange.write(chunk(second) + "0\r\n\r\n");
        });

    try (Claimed message = client.read("r1")) {
      assertThat(message.headers().first("x-inverting-proxy-request-id")).hasValue("r1");
      assertThat(message.headers().first("X-Inverting-Proxy-Request-Start-Time"))
          .hasValue(START_TIME);
      assertThat(message.headers().first("X-Inverting-Proxy-User-ID"))
          .hasValue("someone@example.com");
      assertThat(text(message.wire(), first.length())).isEqualTo(first);
      released.countDown();
      assertThat(text(message.wire())).isEqualTo(second);
    }
    assertThat(buffered)
        .as("readRequest waited for the whole body instead of streaming it")
        .isFalse();
  }

  // ------------------------------------------------------------------ agent/response

  @Test
  @DisplayName(
      "postResponse streams the writer's bytes, chunked, as text/plain with the request ID")
  void postResponseStreams() throws Exception {
    String first = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    String second = "5\r\nhello\r\n0\r\n\r\n";
    CountDownLatch firstArrived = new CountDownLatch(1);
    CompletableFuture<String> received = new CompletableFuture<>();
    proxy.handler(
        exchange -> {
          String head = new String(exchange.readBody(first.length()), ISO_8859_1);
          firstArrived.countDown();
          received.complete(head + new String(exchange.readBody(), ISO_8859_1));
          exchange.respond(200, "OK", Headers.empty(), "");
        });
    AtomicBoolean streamed = new AtomicBoolean();

    client.postResponse(
        "r1",
        out -> {
          out.write(first.getBytes(ISO_8859_1));
          out.flush();
          try {
            streamed.set(firstArrived.await(5, TimeUnit.SECONDS));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          out.write(second.getBytes(ISO_8859_1));
        });

    assertThat(streamed)
        .as("the flushed bytes did not reach the proxy while the writer ran")
        .isTrue();
    assertThat(received.get(10, TimeUnit.SECONDS)).isEqualTo(first + second);
    RequestHead head = proxy.takeRequest();
    assertThat(head.method()).isEqualTo("POST");
    assertThat(head.headers().first("Transfer-Encoding"))
        .hasValueSatisfying(v -> assertThat(v).isEqualToIgnoringCase("chunked"));
    assertThat(head.headers().contains("Content-Length")).isFalse();
    assertThat(head.headers().first("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
    assertThat(head.headers().all("X-Inverting-Proxy-Request-ID")).containsExactly("r1");
  }

  @Test
  @DisplayName("a writer that fails leaves the proxy with an incomplete body, never a clean end")
  void postResponseWriterFailure() throws Exception {
    String first = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
    CountDownLatch firstArrived = new CountDownLatch(1);
    CompletableFuture<String> outcome = new CompletableFuture<>();
    proxy.handler(
        exchange -> {
          exchange.readBody(first.length());
          firstArrived.countDown();
          try {
            exchange.readBody();
            outcome.complete("the body ended cleanly");
            exchange.respond(200, "OK", Headers.empty(), "");
          } catch (IOException e) {
            outcome.complete("incomplete");
            exchange.cut();
          }
        });

    assertThatThrownBy(
            () ->
                client.postResponse(
                    "r1",
                    out -> {
                      out.write(first.getBytes(ISO_8859_1));
                      out.flush();
                      try {
                        firstArrived.await(5, TimeUnit.SECONDS);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                      throw new IOException("the backend went away");
                    }))
        .isInstanceOf(IOException.class);
    assertThat(outcome.get(10, TimeUnit.SECONDS)).isEqualTo("incomplete");
  }

  // ------------------------------------------------------------------ forward

  @Test
  @DisplayName(
      "forward sends the request head exactly: order, case, Host, raw target, nothing added")
  void forwardExactHead() throws Exception {
    backend.handler(exchange -> exchange.respond(204, "No Content", Headers.empty(), ""));
    RequestHead head =
        head(
            "GET",
            "/a%2Fb/c%20d;p=1?q=%2F%20x&y=1&y=2&r=a+b&empty=",
            "Host",
            "public.example:8443",
            "user-agent",
            "kit/1.0",
            "X-Dup",
            "1",
            "accept",
            "*/*",
            "X-Dup",
            "2",
            "X-MiXeD-Case",
            "v",
            "Cookie",
            "c=1; d=2",
            "X-Utf8",
            "caf\u00c3\u00a9",
            "X-Empty",
            "");

    transport.forward(head, MessageBody.empty()).close();

    RequestHead received = backend.takeRequest();
    assertThat(received.method()).isEqualTo("GET");
    assertThat(received.target()).isEqualTo(head.target());
    assertThat(received.version()).isEqualTo("HTTP/1.1");
    assertThat(lines(received.headers())).containsExactlyElementsOf(lines(head.headers()));
  }

  @Test
  @DisplayName("forward sends a body of known length byte for byte, with its Content-Length")
  void forwardBodyWithLength() throws Exception {
    CompletableFuture<byte[]> body = new CompletableFuture<>();
    backend.handler(
        exchange -> {
          body.complete(exchange.readBody());
          exchange.respond(200, "OK", Headers.empty(), "done");
        });
    String bytes = "{\"a\":1}\r\n\u0000\u00ff\r\n\r\n0\r\n";
    RequestHead head =
        head(
            "PUT",
            "/upload",
            "Host",
            "h",
            "content-length",
            Integer.toString(bytes.length()),
            "Content-Type",
            "application/octet-stream");

    try (BackendResponse response = transport.forward(head, body(bytes, bytes.length()))) {
      assertThat(response.head().status()).isEqualTo(200);
      assertThat(text(response.body().stream())).isEqualTo("done");
    }

    assertThat(new String(body.get(10, TimeUnit.SECONDS), ISO_8859_1)).isEqualTo(bytes);
    assertThat(lines(backend.takeRequest().headers()))
        .containsExactlyElementsOf(lines(head.headers()));
  }

  @Test
  @DisplayName("forward streams a body of unknown length chunked while it is produced")
  void forwardStreamsRequestBody() throws Exception {
    CountDownLatch firstArrived = new CountDownLatch(1);
    CompletableFuture<String> received = new CompletableFuture<>();
    CompletableFuture<Long> length = new CompletableFuture<>();
    backend.handler(
        exchange -> {
          length.complete(exchange.body().contentLength());
          String first = new String(exchange.readBody(5), ISO_8859_1);
          firstArrived.countDown();
          received.complete(first + new String(exchange.readBody(), ISO_8859_1));
          exchange.respond(200, "OK", Headers.empty(), "done");
        });
    KitSupport.FeedStream feed = new KitSupport.FeedStream();
    RequestHead head =
        head("POST", "/stream", "Host", "h", "Transfer-Encoding", "chunked", "X-After", "1");

    Future<BackendResponse> call =
        threads.submit(() -> transport.forward(head, MessageBody.of(feed, -1, Headers::empty)));
    feed.feed("first");
    boolean streamed = firstArrived.await(5, TimeUnit.SECONDS);
    feed.feed(" and the rest");
    feed.end();

    try (BackendResponse response = call.get(10, TimeUnit.SECONDS)) {
      assertThat(text(response.body().stream())).isEqualTo("done");
    }
    assertThat(streamed).as("the backend saw no body bytes until the body ended").isTrue();
    assertThat(received.get(10, TimeUnit.SECONDS)).isEqualTo("first and the rest");
    assertThat(length.get()).isEqualTo(-1L);
    assertThat(lines(backend.takeRequest().headers()))
        .containsExactlyElementsOf(lines(head.headers()));
  }

  @Test
  @DisplayName("forward returns the backend's response head exactly as received")
  void forwardExactResponseHead() throws Exception {
    backend.handler(
        exchange ->
            exchange.write(
                "HTTP/1.1 299 Custom Reason\r\nx-lower: 1\r\nSet-Cookie: a=1\r\nX-UPPER: 2\r\n"
                    + "Set-Cookie: b=2\r\nX-Empty: \r\nContent-Length: 2\r\n\r\nok"));

    try (BackendResponse response =
        transport.forward(head("GET", "/", "Host", "h"), MessageBody.empty())) {
      assertThat(response.head())
          .isEqualTo(
              new ResponseHead(
                  "HTTP/1.1",
                  299,
                  "Custom Reason",
                  Headers.of(
                      "x-lower", "1",
                      "Set-Cookie", "a=1",
                      "X-UPPER", "2",
                      "Set-Cookie", "b=2",
                      "X-Empty", "",
                      "Content-Length", "2")));
      assertThat(response.body().contentLength()).isEqualTo(2);
      assertThat(text(response.body().stream())).isEqualTo("ok");
    }
  }

  @Test
  @DisplayName(
      "forward returns as soon as the head arrived and streams the body, then its trailers")
  void forwardStreamsResponseBody() throws Exception {
    CountDownLatch released = new CountDownLatch(1);
    AtomicBoolean buffered = new AtomicBoolean();
    backend.handler(
        exchange -> {
          exchange.write(
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                  + chunk("hello"));
          if (!released.await(5, TimeUnit.SECONDS)) {
            buffered.set(true);
          }
          exchange.write(chunk(" world") + "0\r\nX-Checksum: abc\r\nx-second: 2\r\n\r\n");
        });

    try (BackendResponse response =
        transport.forward(head("GET", "/sse", "Host", "h"), MessageBody.empty())) {
      assertThat(response.head().headers())
          .isEqualTo(Headers.of("Transfer-Encoding", "chunked", "Trailer", "X-Checksum"));
      MessageBody body = response.body();
      assertThat(body.contentLength()).isEqualTo(-1);
      assertThat(text(body.stream(), 5)).isEqualTo("hello");
      released.countDown();
      assertThat(text(body.stream())).isEqualTo(" world");
      assertThat(lines(body.trailers())).containsExactly("X-Checksum: abc", "x-second: 2");
    }
    assertThat(buffered)
        .as("forward waited for the whole response body instead of streaming it")
        .isFalse();
  }

  @Test
  @DisplayName("forward returns the raw body: a gzip body stays compressed, nothing is decoded")
  void forwardRawBody() throws Exception {
    ByteArrayOutputStream compressed = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(compressed)) {
      gzip.write("hello hello hello hello".getBytes(ISO_8859_1));
    }
    byte[] gzipped = compressed.toByteArray();
    backend.handler(
        exchange ->
            exchange.respond(
                200,
                "OK",
                Headers.of(
                    "Content-Encoding", "gzip", "Content-Length", Integer.toString(gzipped.length)),
                gzipped));

    try (BackendResponse response =
        transport.forward(
            head("GET", "/", "Host", "h", "Accept-Encoding", "gzip"), MessageBody.empty())) {
      assertThat(response.head().headers().first("Content-Encoding")).hasValue("gzip");
      assertThat(response.head().headers().first("Content-Length"))
          .hasValue(Integer.toString(gzipped.length));
      assertThat(response.body().contentLength()).isEqualTo(gzipped.length);
      assertThat(response.body().stream().readAllBytes()).isEqualTo(gzipped);
    }
  }

  @Test
  @DisplayName("forward relays redirects from the backend; it never follows one")
  void forwardRedirectsNotFollowed() throws Exception {
    backend.handler(
        exchange -> {
          exchange.readBody();
          if (exchange.head().target().equals("/elsewhere")) {
            exchange.respond(200, "OK", Headers.empty(), "wrong");
          } else {
            exchange.respond(
                Integer.parseInt(exchange.head().target().substring(1)),
                "Moved",
                Headers.of("Location", "/elsewhere"),
                "see /elsewhere");
          }
        });
    for (int status : List.of(301, 302, 303, 307, 308)) {
      int before = backend.requestCount();
      try (BackendResponse response =
          transport.forward(
              head("POST", "/" + status, "Host", "h", "Content-Length", "1"), body("x", 1))) {
        assertThat(response.head().status()).isEqualTo(status);
        assertThat(response.head().headers().first("Location")).hasValue("/elsewhere");
        assertThat(text(response.body().stream())).isEqualTo("see /elsewhere");
      }
      assertThat(backend.requestCount() - before).as("requests for " + status).isEqualTo(1);
    }
  }

  @Test
  @DisplayName("forward: a HEAD response has no body, and the connection stays in step")
  void forwardHead() throws Exception {
    backend.handler(
        exchange -> {
          if (exchange.head().method().equals("HEAD")) {
            exchange.write("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
          } else {
            exchange.respond(200, "OK", Headers.empty(), "next");
          }
        });

    try (BackendResponse response =
        transport.forward(head("HEAD", "/big", "Host", "h"), MessageBody.empty())) {
      assertThat(response.head().status()).isEqualTo(200);
      assertThat(response.head().headers().first("Content-Length")).hasValue("1234");
      assertThat(response.body().stream().read()).isEqualTo(-1);
    }
    try (BackendResponse response =
        transport.forward(head("GET", "/next", "Host", "h"), MessageBody.empty())) {
      assertThat(text(response.body().stream())).isEqualTo("next");
    }
  }

  @Test
  @DisplayName("forward to a backend that cannot be reached is an IOException")
  void forwardUnreachable() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    AgentTransport unreachable =
        open(config(proxy.uri("/"), URI.create("http://127.0.0.1:" + port)));
    assertThatThrownBy(
            () -> unreachable.forward(head("GET", "/", "Host", "h"), MessageBody.empty()).close())
        .isInstanceOf(IOException.class);
  }

  @Test
  @DisplayName("forward sends a GET with a body (capability GET_WITH_BODY)")
  void forwardGetWithBody() throws Exception {
    require(Capability.GET_WITH_BODY);
    CompletableFuture<String> body = new CompletableFuture<>();
    backend.handler(
        exchange -> {
          body.complete(new String(exchange.readBody(), ISO_8859_1));
          exchange.respond(200, "OK", Headers.empty(), "");
        });
    transport
        .forward(head("GET", "/q", "Host", "h", "Content-Length", "3"), body("abc", 3))
        .close();
    assertThat(body.get(10, TimeUnit.SECONDS)).isEqualTo("abc");
  }

  @Test
  @DisplayName("forward keeps dot segments in the target: /a/./b/../c is not normalized")
  void forwardKeepsDotSegments() throws Exception {
    backend.handler(exchange -> exchange.respond(204, "No Content", Headers.empty(), ""));
    transport.forward(head("GET", "/a/./b/../c?x=/../y", "Host", "h"), MessageBody.empty()).close();
    assertThat(backend.takeRequest().target()).isEqualTo("/a/./b/../c?x=/../y");
  }

  @Test
  @DisplayName("forward passes header bytes that are not UTF-8 (obs-text) unchanged")
  void forwardKeepsObsTextBytes() throws Exception {
    backend.handler(exchange -> exchange.respond(204, "No Content", Headers.empty(), ""));
    transport
        .forward(head("GET", "/", "Host", "h", "X-Latin", "caf\u00e9"), MessageBody.empty())
        .close();
    assertThat(backend.takeRequest().headers().first("X-Latin")).hasValue("caf\u00e9");
  }

  // ------------------------------------------------------------------ close

  @Test
  @DisplayName("close() ends a long poll in progress with an IOException, and is idempotent")
  void closeEndsPollAndIsIdempotent() throws Exception {
    CountDownLatch pollArrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    proxy.handler(
        exchange -> {
          pollArrived.countDown();
          release.await(20, TimeUnit.SECONDS);
          exchange.respond(200, "OK", Headers.empty(), "[\"too-late\"]");
        });
    Future<List<String>> poll = threads.submit(() -> client.listPending(new CancelSignal()).ids());
    await(pollArrived, "the long poll reached the proxy");

    transport.close();
    transport.close();

    try {
      assertThatThrownBy(() -> poll.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(IOException.class);
    } finally {
      release.countDown();
    }
  }
}
