package dev.invertingproxy.transport.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.testkit.RawHttpClient;
import dev.invertingproxy.testkit.WireReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A client's malformed or broken request body is the client's doing, never the agent's (issue
 * 12, item 10; it was answered 502 as if the agent had failed). Real sockets throughout: a raw
 * client, the proxy on embedded Jetty, our agent (or one played by hand, to see its read) and a
 * raw backend that records whether a request reached it whole or cut.
 *
 * <p>Jetty reports every malformed chunked body as an early end of the body ("Early EOF"), its
 * reason dropped; the proxy tells it from a client that left by the connection (still open), so
 * its 400 names the chunked framing, not the exact fault.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MalformedBodyIT {
  private static final String HEAD =
      "POST /upload HTTP/1.1\r\nHost: public.example\r\nTransfer-Encoding: chunked\r\n\r\n";

  private Relay relay;
  /** What the backend saw: "head T", then "complete T body" or "cut T". */
  private final LinkedBlockingQueue<String> backendSaw = new LinkedBlockingQueue<>();

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
  }

  static Stream<Arguments> malformedBodies() {
    return Stream.of(
        Arguments.of("an overflowing chunk size", "ffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
        Arguments.of(
            // Jetty counts chunk extensions (and trailers) toward its request header limit: 8 KiB
            // by default, the engine's head limit + 1 KiB where JettyProxyHost sets it.
            "an enormous chunk extension (40 KiB)",
            "3;" + "x".repeat(40 * 1024) + "\r\nabc\r\n0\r\n\r\n"),
        Arguments.of("invalid characters in the chunk size", "3z\r\nabc\r\n0\r\n\r\n"),
        Arguments.of("chunk data longer than its size", "3\r\nabcd\r\n0\r\n\r\n"),
        Arguments.of("a good chunk, then a bad size", "3\r\nabc\r\nxyz\r\nabc\r\n0\r\n\r\n"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedBodies")
  @DisplayName("a malformed chunked body: 400 from the proxy; the backend never sees it whole")
  void malformedBody(String name, String body) throws Exception {
    relay = relayWithRecordingBackend(Relay.withAgent());
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(HEAD + body);
      RawHttpClient.Response response = client.read("POST");
      // Answered by the proxy (ProxyEngine, reason from JettySupport), not by Jetty or the agent.
      assertThat(response.status()).isEqualTo(400);
      assertThat(response.bodyText()).startsWith("malformed request body: invalid chunked framing");
      assertThat(response.headers().first("Connection")).contains("close");
    }
    assertServesNextAndNeverCompleted("/upload");
  }

  @Test
  @DisplayName("the head already went on to the backend: its request is cut, the client gets 400")
  void malformedAfterHeadWentOn() throws Exception {
    relay = relayWithRecordingBackend(Relay.withAgent());
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(HEAD + "3\r\nabc\r\n");
      awaitBackend("head /upload");
      client.send("ffffffffffffffffff\r\n");
      RawHttpClient.Response response = client.read("POST");
      assertThat(response.status()).isEqualTo(400);
      assertThat(response.bodyText()).startsWith("malformed request body");
    }
    awaitBackend("cut /upload");
    assertServesNextAndNeverCompleted("/upload");
  }

  @Test
  @DisplayName("a client that leaves mid-chunk: nothing to answer; the backend's request is cut")
  void clientLeavesMidChunk() throws Exception {
    relay = relayWithRecordingBackend(Relay.withAgent());
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(HEAD + "5\r\nab");
      awaitBackend("head /upload");
    } // the client leaves: 3 bytes of its chunk never come
    awaitBackend("cut /upload");
    assertServesNextAndNeverCompleted("/upload");
  }

  @Test
  @DisplayName("an upload that stalls past the idle time-out: 408 from the proxy; the backend's request is cut")
  void stalledUpload() throws Exception {
    // Polls end well within the idle time-out, so only the stalled client's connection expires.
    relay =
        relayWithRecordingBackend(
            Relay.withAgent(
                engine -> engine.longPollTimeout(Duration.ofMillis(300)), Duration.ofMillis(1500)));
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(HEAD + "3\r\nabc\r\n");
      awaitBackend("head /upload");
      RawHttpClient.Response response = client.read("POST"); // sends nothing more
      assertThat(response.status()).isEqualTo(408);
      assertThat(response.bodyText()).startsWith("the request body stalled");
    }
    awaitBackend("cut /upload");
    assertServesNextAndNeverCompleted("/upload");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("agentReads")
  @DisplayName("played by hand: the agent's read is cut, and the request is not offered again")
  void agentReadIsCut(String path) throws Exception {
    relay =
        Relay.withoutAgent(
            engine ->
                engine.responseTimeout(Duration.ofSeconds(30)).longPollTimeout(Duration.ofMillis(300)));
    try (AgentCalls agent = new AgentCalls(relay.proxy);
        RawHttpClient client = new RawHttpClient(relay.port())) {
      assertThat(agent.pending("b1").status()).isEqualTo(200); // the backend counts as live
      client.send(HEAD + "3\r\nabc\r\n");
      String id = path.equals("agent/next") ? null : awaitId(agent);
      try (Socket read = agentRead(path, id)) {
        WireReader outer = new WireReader(read.getInputStream());
        ResponseHead answer = outer.readResponseHead();
        assertThat(answer.status()).isEqualTo(200);
        id = answer.headers().first("X-Inverting-Proxy-Request-ID").orElseThrow();
        MessageBody wire = outer.responseBody(answer, "GET");
        WireReader inner = new WireReader(wire.stream());
        RequestHead request = inner.readRequestHead();
        assertThat(request.target()).isEqualTo("/upload");
        InputStream body = inner.requestBody(request).stream();
        assertThat(new String(body.readNBytes(3), ISO_8859_1)).isEqualTo("abc");

        client.send("3z\r\n"); // the client's next chunk size is malformed
        RawHttpClient.Response response = client.read("POST");
        assertThat(response.status()).isEqualTo(400);
        assertThat(response.bodyText()).startsWith("malformed request body");
        // The agent's read ends without the request's last chunk: cut, never complete.
        assertThatThrownBy(body::readAllBytes).isInstanceOf(EOFException.class);
      }
      assertThat(agent.pending("b1").body()).isEqualTo("[]"); // withdrawn, not offered again
      assertThat(agent.read("b1", id).status()).isEqualTo(404);
    }
  }

  static Stream<String> agentReads() {
    return Stream.of("agent/request", "agent/next");
  }

  /** Answers every request by echoing it, recording in {@link #backendSaw} how it arrived. */
  private Relay relayWithRecordingBackend(Relay started) {
    started.backend.respondStreaming(
        (head, body, out) -> {
          backendSaw.add("head " + head.target());
          byte[] bytes;
          try {
            bytes = body.stream().readAllBytes();
          } catch (IOException | RuntimeException e) {
            backendSaw.add("cut " + head.target());
            throw e;
          }
          String text = new String(bytes, ISO_8859_1);
          backendSaw.add("complete " + head.target() + " " + text);
          out.write(
              ("HTTP/1.1 200 OK\r\nContent-Length: " + bytes.length + "\r\n\r\n" + text)
                  .getBytes(ISO_8859_1));
        });
    return started;
  }

  private void awaitBackend(String event) throws InterruptedException {
    List<String> seen = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      String next = backendSaw.poll(100, TimeUnit.MILLISECONDS);
      if (next != null) {
        assertThat(next).doesNotStartWith("complete /upload");
        if (next.equals(event)) {
          return;
        }
        seen.add(next);
      }
    }
    throw new AssertionError("the backend never saw " + event + "; it saw " + seen);
  }

  /**
   * The proxy and the agent serve the next request normally, and the backend never saw {@code
   * target} complete (it saw nothing of it, or a request cut short).
   */
  private void assertServesNextAndNeverCompleted(String target) throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(
          "POST /next HTTP/1.1\r\nHost: public.example\r\nTransfer-Encoding: chunked\r\n\r\n"
              + "2\r\nok\r\n0\r\n\r\n");
      RawHttpClient.Response response = client.read("POST");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("ok");
    }
    List<String> events = new ArrayList<>();
    backendSaw.drainTo(events);
    assertThat(events).contains("complete /next ok");
    assertThat(events).noneMatch(event -> event.startsWith("complete " + target));
    if (events.contains("head " + target) && !events.contains("cut " + target)) {
      awaitBackend("cut " + target); // started, so it must end cut
    }
  }

  private static String awaitId(AgentCalls agent) throws IOException {
    for (int i = 0; i < 20; i++) {
      String json = agent.pending("b1").body().trim();
      if (!json.equals("[]")) {
        return json.substring(2, json.length() - 2);
      }
    }
    throw new AssertionError("no request was offered");
  }

  /** Starts an agent's read ({@code agent/request} for {@code id}, or {@code agent/next}). */
  private Socket agentRead(String path, String id) throws IOException {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), relay.port());
    socket.setSoTimeout(30_000);
    String call =
        "GET /" + path + " HTTP/1.1\r\nHost: proxy\r\nX-Inverting-Proxy-Backend-ID: b1\r\n"
            + "Authorization: Bearer " + Relay.AGENT_TOKEN + "\r\n"
            + (id == null ? "" : "X-Inverting-Proxy-Request-ID: " + id + "\r\n")
            + "\r\n";
    socket.getOutputStream().write(call.getBytes(ISO_8859_1));
    socket.getOutputStream().flush();
    return socket;
  }
}
