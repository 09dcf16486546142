package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.core.DefaultAgentLoop;
import dev.invertingproxy.testkit.RawHttpBackend;
import dev.invertingproxy.testkit.RawHttpClient;
import dev.invertingproxy.testkit.WireReader;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Our real agent ({@link DefaultAgentLoop} on {@link OkHttpAgentTransport}) against a fake of the
 * reference stand-alone server ({@link FakeReferenceServer}: server.go's wire behaviour, with a 300
 * ms list wait instead of 30 s) and a raw backend: what the backend receives, what the server
 * receives as posted responses, what the client gets back, and how {@code null} list answers are
 * taken.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReferenceServerCompatibilityIT {
  private static final Duration LIST_WAIT = Duration.ofMillis(300);
  private static final String AGENT_LOGGER = DefaultAgentLoop.class.getName();

  private FakeReferenceServer server;
  private RawHttpBackend backend;
  private DefaultAgentLoop agent;
  private OkHttpAgentTransport transport;
  private final List<LogRecord> warnings = new CopyOnWriteArrayList<>();
  private final Handler warningRecorder =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
            warnings.add(record);
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  @BeforeEach
  void start() throws IOException {
    server = new FakeReferenceServer(LIST_WAIT);
    backend = new RawHttpBackend();
    Logger.getLogger(AGENT_LOGGER).addHandler(warningRecorder);
  }

  @AfterEach
  void stop() throws IOException {
    Logger.getLogger(AGENT_LOGGER).removeHandler(warningRecorder);
    if (agent != null) {
      agent.close(Duration.ofSeconds(2));
    }
    if (transport != null) {
      transport.close();
    }
    server.close();
    backend.close();
  }

  /** Our agent with an explicitly built transport (which knows the proxy and the backend). */
  private void startAgent() {
    transport =
        OkHttpAgentTransport.create(
            AgentConfig.builder()
                .proxyUrl(server.uri())
                .backendId("b1")
                .backendUrl(backend.uri())
                .pollTimeout(Duration.ofSeconds(10))
                .maxInFlight(4)
                .build());
    agent =
        DefaultAgentLoop.builder()
            .transport(transport)
            .backendId("b1")
            .forwardUserId(true)
            .build();
    agent.start();
  }

  /** Our agent with the transport it finds itself (as the agent program runs it). */
  private void startOwnAgent() {
    agent =
        DefaultAgentLoop.builder()
            .proxy(server.uri())
            .backendId("b1")
            .backendUrl(backend.uri())
            .pollTimeout(Duration.ofSeconds(10))
            .build();
    agent.start();
  }

  /** Waits, bounded, until {@code value} reaches {@code at}. */
  private static void awaitAtLeast(IntSupplier value, int at, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (value.getAsInt() < at) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after 10 s waiting for " + what);
      }
      Thread.sleep(10);
    }
  }

  private static List<String> lines(Headers headers) {
    List<String> lines = new ArrayList<>();
    for (Header field : headers.fields()) {
      lines.add(field.name() + ": " + field.value());
    }
    return lines;
  }

  /** The head the server wrote, parsed back into header lines. */
  private static List<String> headerLines(String writtenHead) {
    List<String> lines = new ArrayList<>(List.of(writtenHead.split("\r\n")));
    lines.remove(0); // the request line
    return lines;
  }

  @Test
  @DisplayName("no goodbye to a server that did not announce leave-notice: it would take it for a list call")
  void noGoodbyeToTheReferenceServer() throws Exception {
    startOwnAgent();
    // Closed while its first poll is still open, before any answer told it what the server is.
    awaitAtLeast(server.polls::get, 1, "a poll");
    agent.close(Duration.ofSeconds(2));
    agent = null;
    assertThat(server.listCalls).isNotEmpty().allMatch(call -> call.equals("GET /agent/pending"));
  }

  @Test
  @DisplayName("null list answers (found by discovery): no error, no busy loop, work still served")
  void nullPollAnswers() throws Exception {
    startOwnAgent();

    awaitAtLeast(server.nullAnswers::get, 3, "three null answers");
    // When poll n+1 arrives the agent has taken answer n: it counted as a successful poll.
    awaitAtLeast(server.polls::get, 5, "a fifth poll");
    assertThat(agent.isConnected()).isTrue();

    // Each idle poll is held LIST_WAIT by the server, so ~3 fit in 1 s; a busy or parallel poller
    // would exceed 10. Slowness can only lower the count.
    int before = server.polls.get();
    Thread.sleep(1000); // a measuring window, not a synchronization
    int during = server.polls.get() - before;
    assertThat(during).isBetween(0, 10);

    try (RawHttpClient client = new RawHttpClient(server.port())) {
      client.send("GET /after-idle HTTP/1.1\r\nHost: public.example\r\n\r\n");
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("GET /after-idle\n");
    }
    assertThat(agent.isConnected()).isTrue();
    assertThat(warnings).extracting(LogRecord::getMessage).isEmpty();
  }

  @Test
  @DisplayName(
      "a request with Content-Length: the backend gets Go's request as written; the server a valid"
          + " response")
  void contentLengthExchange() throws Exception {
    startAgent();
    backend.respondWith(
        (request, out) ->
            out.write(
                ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Backend: yes\r\n"
                        + "Content-Length: 11\r\n\r\n{\"ok\":true}")
                    .getBytes(ISO_8859_1)));

    try (RawHttpClient client = new RawHttpClient(server.port())) {
      client.send(
          "POST /submit/a%2Fb?x=1&y=%20 HTTP/1.1\r\n"
              + "Host: public.example:8443\r\n"
              + "x-custom-CASE: v\r\n"
              + "X-Dup: 1\r\n"
              + "Accept: */*\r\n"
              + "X-Dup: 2\r\n"
              + "Connection: keep-alive\r\n"
              + "Content-Type: application/json\r\n"
              + "Content-Length: 13\r\n\r\n"
              + "{\"hello\":\"w\"}");
      RawHttpClient.Response response = client.read("POST");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.headers().first("X-Backend")).hasValue("yes");
      assertThat(response.bodyText()).isEqualTo("{\"ok\":true}");
    }

    // The backend received the request exactly as Go's request writer put it on the wire.
    String written = server.writtenRequestHeads.poll(5, TimeUnit.SECONDS);
    assertThat(written)
        .isEqualTo(
            "POST /submit/a%2Fb?x=1&y=%20 HTTP/1.1\r\n"
                + "Host: public.example:8443\r\n"
                + "User-Agent: Go-http-client/1.1\r\n"
                + "Content-Length: 13\r\n"
                + "Accept: */*\r\n"
                + "Content-Type: application/json\r\n"
                + "X-Custom-Case: v\r\n"
                + "X-Dup: 1\r\n"
                + "X-Dup: 2\r\n\r\n");
    RawHttpBackend.Received received = backend.take();
    assertThat(received.head().method()).isEqualTo("POST");
    assertThat(received.head().target()).isEqualTo("/submit/a%2Fb?x=1&y=%20");
    assertThat(lines(received.head().headers())).containsExactlyElementsOf(headerLines(written));
    assertThat(received.contentLength()).isEqualTo(13);
    assertThat(received.bodyText()).isEqualTo("{\"hello\":\"w\"}");

    // The server received a well-formed HTTP/1.1 response, as text/plain, chunked, with the ID.
    FakeReferenceServer.Posted posted = server.posted.poll(5, TimeUnit.SECONDS);
    assertThat(posted).isNotNull();
    assertThat(posted.post().headers().first("Content-Type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
    assertThat(posted.post().headers().first("Transfer-Encoding")).hasValue("chunked");
    assertThat(posted.post().headers().first("X-Inverting-Proxy-Request-ID")).isPresent();
    WireReader.Response wire = WireReader.parseResponse(posted.wire(), "POST");
    assertThat(wire.head().version()).isEqualTo("HTTP/1.1");
    assertThat(wire.status()).isEqualTo(200);
    assertThat(wire.head().reason()).isEqualTo("OK");
    assertThat(lines(wire.head().headers()))
        .containsExactly("Content-Type: application/json", "X-Backend: yes", "Content-Length: 11");
    assertThat(wire.contentLength()).isEqualTo(11);
    assertThat(wire.bodyText()).isEqualTo("{\"ok\":true}");
    assertThat(warnings).extracting(LogRecord::getMessage).isEmpty();
  }

  @Test
  @DisplayName(
      "a chunked request reaches the backend chunked; a chunked response with trailers is posted"
          + " well-formed")
  void chunkedExchangeWithTrailers() throws Exception {
    startAgent();
    backend.respondWith(
        (request, out) ->
            out.write(
                ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Checksum\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n"
                        + "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\n\r\n")
                    .getBytes(ISO_8859_1)));

    try (RawHttpClient client = new RawHttpClient(server.port())) {
      client.send(
          "PUT /upload HTTP/1.1\r\nHost: public.example\r\nUser-Agent: curl/8.5.0\r\n"
              + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
      RawHttpClient.Response response = client.read("PUT");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("hello world");
      assertThat(response.trailers().first("X-Checksum")).hasValue("abc123");
    }

    String written = server.writtenRequestHeads.poll(5, TimeUnit.SECONDS);
    assertThat(written)
        .isEqualTo(
            "PUT /upload HTTP/1.1\r\nHost: public.example\r\nUser-Agent: curl/8.5.0\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n");
    RawHttpBackend.Received received = backend.take();
    assertThat(received.head().method()).isEqualTo("PUT");
    assertThat(lines(received.head().headers())).containsExactlyElementsOf(headerLines(written));
    assertThat(received.contentLength()).isEqualTo(-1);
    assertThat(received.bodyText()).isEqualTo("abcdefg");
    assertThat(received.head().headers().contains("X-Inverting-Proxy-User-ID")).isFalse();

    FakeReferenceServer.Posted posted = server.posted.poll(5, TimeUnit.SECONDS);
    assertThat(posted).isNotNull();
    WireReader.Response wire = WireReader.parseResponse(posted.wire(), "PUT");
    assertThat(wire.head().version()).isEqualTo("HTTP/1.1");
    assertThat(wire.status()).isEqualTo(200);
    assertThat(wire.head().headers().first("Transfer-Encoding")).hasValue("chunked");
    assertThat(wire.head().headers().contains("Content-Length")).isFalse();
    assertThat(wire.contentLength()).isEqualTo(-1);
    assertThat(wire.bodyText()).isEqualTo("hello world");
    assertThat(lines(wire.trailers())).containsExactly("X-Checksum: abc123");
    assertThat(new String(posted.wire(), ISO_8859_1)).endsWith("0\r\nX-Checksum: abc123\r\n\r\n");
    assertThat(warnings).extracting(LogRecord::getMessage).isEmpty();
  }
}
