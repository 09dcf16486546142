package dev.invertingproxy.transport.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.testkit.RawHttpClient;
import dev.invertingproxy.testkit.Rfc3339;
import dev.invertingproxy.testkit.WireReader;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Our proxy (Jetty 12, the servlets, in-memory storage) driven by a raw-socket agent that speaks
 * exactly as the reference Go agent does ({@link GoStyleAgent}; docs/protocol.md, "The reference
 * agent"): Go's request bytes and header-name case, its reads and retries, and response POSTs as
 * Go's {@code http.Response.Write} produces them (chunked forced, a {@code Trailer:} header,
 * trailers after the last chunk), themselves chunked by Go's client.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReferenceAgentCompatibilityIT {
  /**
   * A backend response as the Go agent posts it: {@code Response.Write} writes the status line, the
   * transfer headers it forces, then the other headers sorted, then a chunked body and trailers.
   */
  private static final String GO_RESPONSE_HEAD =
      "HTTP/1.1 201 Created\r\n"
          + "Transfer-Encoding: chunked\r\n"
          + "Trailer: X-Checksum\r\n"
          + "Content-Type: text/plain; charset=utf-8\r\n"
          + "Date: Fri, 02 Jan 2026 03:04:05 GMT\r\n"
          + "X-From: go-agent\r\n"
          + "\r\n";

  private static final String GO_RESPONSE_BODY =
      "5\r\nhello\r\n" + "6\r\n world\r\n" + "0\r\n" + "X-Checksum: abc123\r\n" + "\r\n";

  private Relay relay;
  private GoStyleAgent agent;

  @BeforeEach
  void start() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.longPollTimeout(Duration.ofMillis(300)));
    agent = new GoStyleAgent(relay.proxy, Relay.AGENT_TOKEN, Relay.BACKEND_ID);
    GoStyleAgent.Answer first = agent.pending();
    assertThat(first.status()).isEqualTo(200);
    assertThat(GoStyleAgent.JsonIds.parse(first.text())).isEmpty();
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
    relay.close();
  }

  private String onlyId() throws IOException {
    List<String> ids = agent.pendingUntilWork();
    assertThat(ids).hasSize(1);
    return ids.get(0);
  }

  @Test
  @DisplayName(
      "list, read and post byte for byte as the Go agent: the client gets status, headers, body,"
          + " trailers")
  void goAgentExchange() throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send("GET /go/path%2Fx?q=1 HTTP/1.1\r\nHost: public.example\r\nX-Client: 1\r\n\r\n");
      String id = onlyId();

      GoStyleAgent.Answer read = agent.read(id);
      assertThat(read.status()).isEqualTo(200);
      // The Go agent drops the request unless this parses with time.RFC3339Nano.
      Rfc3339.parseAsGo(read.headers().first("X-Inverting-Proxy-Request-Start-Time").orElseThrow());
      WireReader.Request parsed = WireReader.parseRequest(read.body());
      RequestHead request = parsed.head();
      assertThat(request.method()).isEqualTo("GET");
      assertThat(request.target()).isEqualTo("/go/path%2Fx?q=1");
      assertThat(request.version()).isEqualTo("HTTP/1.1");
      assertThat(request.headers().all("Host")).containsExactly("public.example");
      assertThat(request.headers().first("X-Client")).hasValue("1");
      assertThat(parsed.body()).isEmpty();

      // Go's client chunks the POST body as the pipe delivers it: here the head, then the body.
      GoStyleAgent.Answer posted = agent.post(id, GO_RESPONSE_HEAD, GO_RESPONSE_BODY);
      assertThat(posted.status()).as(posted.text()).isEqualTo(200);

      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(201);
      // Jetty re-renders Content-Type without the space; the value is the same media type.
      assertThat(response.headers().first("Content-Type").map(v -> v.replace("; ", ";")))
          .hasValue("text/plain;charset=utf-8");
      assertThat(response.headers().first("X-From")).hasValue("go-agent");
      assertThat(response.bodyText()).isEqualTo("hello world");
      assertThat(response.trailers().first("X-Checksum")).hasValue("abc123");
    }
  }

  @Test
  @DisplayName("the response reaches the client while the Go agent is still posting it")
  void goAgentResponseStreams() throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port());
        Socket post = agent.open()) {
      client.send("GET /stream HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = onlyId();
      // Go's client sends what the pipe delivered so far: the head and the first chunk.
      post.getOutputStream()
          .write(
              (agent.postHead(id) + chunk(GO_RESPONSE_HEAD + "5\r\nhello\r\n"))
                  .getBytes(ISO_8859_1));
      post.getOutputStream().flush();

      WireReader reader = new WireReader(client.socket.getInputStream());
      ResponseHead head = reader.readResponseHead();
      assertThat(head.status()).isEqualTo(201);
      MessageBody body = reader.responseBody(head, "GET");
      assertThat(new String(body.stream().readNBytes(5), ISO_8859_1)).isEqualTo("hello");

      // Only now does the rest exist.
      post.getOutputStream()
          .write(
              (chunk("6\r\n world\r\n0\r\nX-Checksum: abc123\r\n\r\n") + "0\r\n\r\n")
                  .getBytes(ISO_8859_1));
      post.getOutputStream().flush();
      assertThat(new String(body.stream().readAllBytes(), ISO_8859_1)).isEqualTo(" world");
      assertThat(body.trailers().first("X-Checksum")).hasValue("abc123");
      assertThat(new WireReader(post.getInputStream()).readResponseHead().status()).isEqualTo(200);
    }
  }

  @Test
  @DisplayName(
      "the Go agent's read retry (after a transport error, before any body byte) is served again")
  void goAgentRetriesRead() throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send("GET /retry HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = onlyId();

      // Attempt 1: the connection breaks after the answer's head (a transport error for Go).
      try (Socket broken = agent.open()) {
        broken.getOutputStream().write(agent.readRequestHead(id).getBytes(ISO_8859_1));
        broken.getOutputStream().flush();
        WireReader reader = new WireReader(broken.getInputStream());
        assertThat(reader.readResponseHead().status()).isEqualTo(200);
      }
      // Attempt 2, at once, as Go retries.
      GoStyleAgent.Answer read = agent.read(id);
      assertThat(read.status()).isEqualTo(200);
      assertThat(WireReader.parseRequest(read.body()).head().target()).isEqualTo("/retry");

      assertThat(agent.post(id, GO_RESPONSE_HEAD + GO_RESPONSE_BODY).status()).isEqualTo(200);
      assertThat(client.read("GET").bodyText()).isEqualTo("hello world");
    }
  }

  @Test
  @DisplayName(
      "the Go agent's POST retry of an answered request gets 409; the client's response is"
          + " unaffected")
  void goAgentRetriesPost() throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send("GET /once HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = onlyId();
      assertThat(agent.read(id).status()).isEqualTo(200);

      assertThat(agent.post(id, GO_RESPONSE_HEAD, GO_RESPONSE_BODY).status()).isEqualTo(200);
      GoStyleAgent.Answer retried =
          agent.post(
              id,
              "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n",
              "3\r\nbad\r\n0\r\n\r\n");
      assertThat(retried.status()).isEqualTo(409);

      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(201);
      assertThat(response.bodyText()).isEqualTo("hello world");
      assertThat(response.trailers().first("X-Checksum")).hasValue("abc123");
      // nothing of the refused answer follows on the client's connection
      client.send("GET /after HTTP/1.1\r\nHost: public.example\r\n\r\n");
      assertThat(onlyId()).isNotEqualTo(id);
    }
  }

  @Test
  @DisplayName("a chunked client body reaches the Go agent as a chunked HTTP/1.1 request")
  void chunkedClientBody() throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(
          "POST /upload HTTP/1.1\r\nHost: public.example\r\nContent-Type: text/plain\r\n"
              + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
      String id = onlyId();

      GoStyleAgent.Answer read = agent.read(id);
      assertThat(read.status()).isEqualTo(200);
      String wire = read.text();
      String head = wire.substring(0, wire.indexOf("\r\n\r\n") + 4);
      assertThat(head).startsWith("POST /upload HTTP/1.1\r\n");
      assertThat(head.toLowerCase())
          .contains("\r\ntransfer-encoding: chunked\r\n")
          .doesNotContain("content-length");
      assertThat(wire).endsWith("0\r\n\r\n");
      WireReader.Request request = WireReader.parseRequest(read.body());
      assertThat(request.bodyText()).isEqualTo("abcdefg");
      assertThat(request.contentLength()).isEqualTo(-1);

      assertThat(agent.post(id, GO_RESPONSE_HEAD + GO_RESPONSE_BODY).status()).isEqualTo(200);
      assertThat(client.read("POST").status()).isEqualTo(201);
    }
  }

  private static String chunk(String data) {
    return Integer.toHexString(data.getBytes(ISO_8859_1).length) + "\r\n" + data + "\r\n";
  }
}
