package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.testkit.RawHttpBackend;
import dev.invertingproxy.testkit.RawHttpClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A battery of malformed and ambiguous requests on a raw socket: each is
 * refused before it reaches an agent, or, where the framing is in fact valid, relayed exactly once
 * with its framing settled. After each, the backend has seen nothing (the next request it sees is
 * a control request) and the proxy serves that control request normally.
 *
 * <p>Who answers: the refusals here come from Jetty's own HTTP parser and connection
 * ({@code HttpParser}, {@code HttpConnection} with {@code JettyProxyHost.httpConfiguration()},
 * RFC 9110 compliance) before any servlet runs, as Jetty's HTML error page whose title carries
 * Jetty's reason. A malformed chunked body, which Jetty can only see after the head was handed
 * on, is answered by the proxy itself (MalformedBodyIT), as are requests that are valid HTTP but
 * cannot be relayed faithfully (a transfer coding other than chunked, CONNECT, TRACE): the engine
 * answers those 501 before anything is parked ({@code ProxyEngine.handle}).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MalformedRequestIT {
  private static final String POST = "POST /p HTTP/1.1\r\nHost: public.example\r\n";
  private static final String CHUNKED_ABC = "3\r\nabc\r\n0\r\n\r\n";

  private static Relay relay;
  private static final AtomicInteger controls = new AtomicInteger();

  @BeforeAll
  static void start() throws Exception {
    relay = Relay.withAgent();
    relay.backend.respondWith(RawHttpBackend::echo);
  }

  @BeforeEach
  void forgetEarlierTests() {
    relay.backend.received.clear(); // a test that failed leaves its own failure behind, no more
  }

  @AfterAll
  static void stop() throws Exception {
    relay.close();
  }

  static Stream<Arguments> refusedByJetty() {
    return Stream.of(
        // framing: Content-Length and Transfer-Encoding in conflict (request smuggling)
        refused(
            "Content-Length and Transfer-Encoding together",
            POST + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_ABC,
            "Transfer-Encoding and Content-Length"),
        refused(
            "two different Content-Length values",
            POST + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "Multiple Content-Lengths"),
        refused(
            "two equal Content-Length fields",
            POST + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            "Multiple Content-Lengths"),
        // obfuscated Transfer-Encoding
        refused(
            "Transfer-Encoding: xchunked",
            POST + "Transfer-Encoding: xchunked\r\n\r\n" + CHUNKED_ABC,
            "Bad Transfer-Encoding, chunked not last"),
        refused(
            "Transfer-Encoding: chunked, identity",
            POST + "Transfer-Encoding: chunked, identity\r\n\r\n" + CHUNKED_ABC,
            "Bad Transfer-Encoding, chunked not last"),
        refused(
            "Transfer-Encoding: identity (no chunked)",
            POST + "Transfer-Encoding: identity\r\n\r\nabc",
            "Bad Transfer-Encoding, chunked not last"),
        refused(
            "Transfer-Encoding: chunked, chunked",
            POST + "Transfer-Encoding: chunked, chunked\r\n\r\n" + CHUNKED_ABC,
            "Bad Transfer-Encoding, multiple chunked tokens"),
        refused(
            "Transfer-Encoding: chunked twice",
            POST + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_ABC,
            "Bad Transfer-Encoding, chunked not last"),
        refused(
            "Transfer-Encoding with a space before the colon",
            POST + "Transfer-Encoding : chunked\r\n\r\n" + CHUNKED_ABC,
            "Illegal character SPACE"),
        // obsolete line folding
        refused(
            "Transfer-Encoding folded onto a second line (obs-fold)",
            POST + "Transfer-Encoding:\r\n chunked\r\n\r\n" + CHUNKED_ABC,
            "Line Folding not supported"),
        refused(
            "a folded header line (obs-fold)",
            POST + "X-A: one\r\n two\r\nContent-Length: 3\r\n\r\nabc",
            "Line Folding not supported"),
        // bad Content-Length values
        refused("Content-Length: -1", POST + "Content-Length: -1\r\n\r\nabc", "Invalid Content-Length Value"),
        refused("Content-Length: 1.5", POST + "Content-Length: 1.5\r\n\r\nabc", "Invalid Content-Length Value"),
        refused("Content-Length: +5", POST + "Content-Length: +5\r\n\r\nabcde", "Invalid Content-Length Value"),
        refused("Content-Length: 0x10", POST + "Content-Length: 0x10\r\n\r\nabc", "Invalid Content-Length Value"),
        refused("Content-Length: 3, 3", POST + "Content-Length: 3, 3\r\n\r\nabc", "Invalid Content-Length Value"),
        refused(
            "Content-Length beyond a long",
            POST + "Content-Length: 99999999999999999999999\r\n\r\nabc",
            "Bad Request"),
        // bytes that may not appear in a head
        refused(
            "NUL in a header value",
            "GET /p HTTP/1.1\r\nHost: public.example\r\nX-A: a\0b\r\n\r\n",
            "Illegal character CNTL=0x0"),
        refused(
            "NUL in a header name",
            "GET /p HTTP/1.1\r\nHost: public.example\r\nX\0A: b\r\n\r\n",
            "Illegal character CNTL=0x0"),
        refused(
            "NUL in the target",
            "GET /p\0q HTTP/1.1\r\nHost: public.example\r\n\r\n",
            "Illegal character CNTL=0x0"),
        refused(
            "a bare CR in a header value",
            "GET /p HTTP/1.1\r\nHost: public.example\r\nX-A: a\rb\r\n\r\n",
            "Bad EOL"),
        // malformed header lines
        refused(
            "a header line without a colon",
            "GET /p HTTP/1.1\r\nHost: public.example\r\nNoColonHere\r\n\r\n",
            "Illegal character"),
        refused(
            "a space before the colon",
            "GET /p HTTP/1.1\r\nHost: public.example\r\nX-A : b\r\n\r\n",
            "Illegal character SPACE"),
        // Host and the target's authority
        refused(
            "two Host headers",
            "GET /p HTTP/1.1\r\nHost: public.example\r\nHost: other.example\r\n\r\n",
            "Duplicate Host Header"),
        refused("no Host (HTTP/1.1)", "GET /p HTTP/1.1\r\n\r\n", "No Host"),
        refused("an empty Host", "GET /p HTTP/1.1\r\nHost:\r\n\r\n", "Blank Host"),
        refused(
            "an absolute-form target for another host",
            "GET http://other.example/p HTTP/1.1\r\nHost: public.example\r\n\r\n",
            "Authority!=Host"),
        refused(
            "an absolute-form https target for another host",
            "GET https://other.example/p HTTP/1.1\r\nHost: public.example\r\n\r\n",
            "Authority!=Host"),
        refused(
            "CONNECT with an origin-form target",
            "CONNECT /x HTTP/1.1\r\nHost: public.example\r\n\r\n",
            "Bad Request"));
  }

  private static Arguments refused(String name, String request, String jettyReason) {
    return Arguments.of(name, request, jettyReason);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedByJetty")
  @DisplayName("refused with 400 by Jetty's parser; the backend sees nothing")
  void refusedByJetty(String name, String request, String jettyReason) throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(request);
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(400);
      // Jetty's error page (the proxy's own answers are text/plain): <title>Error 400 reason</title>
      assertThat(response.headers().first("Content-Type")).hasValueSatisfying(
          type -> assertThat(type).startsWith("text/html"));
      assertThat(response.bodyText()).contains("<title>Error 400 " + jettyReason);
    }
    assertBackendSawNothingAndServesNext();
  }

  static Stream<Arguments> refusedByTheProxy() {
    return Stream.of(
        Arguments.of(
            "Transfer-Encoding: gzip, chunked",
            POST + "Transfer-Encoding: gzip, chunked\r\n\r\n" + CHUNKED_ABC,
            "unsupported Transfer-Encoding \"gzip, chunked\": only chunked request bodies are relayed"),
        Arguments.of(
            "Transfer-Encoding: deflate, then Transfer-Encoding: chunked",
            POST + "Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_ABC,
            "unsupported Transfer-Encoding \"deflate, chunked\": only chunked request bodies are relayed"),
        Arguments.of(
            "CONNECT host:port (authority-form)",
            "CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n",
            "CONNECT is not supported: the proxy relays requests, not tunnels"),
        Arguments.of(
            "TRACE (it would echo the client's credentials and cookies)",
            "TRACE /p HTTP/1.1\r\nHost: public.example\r\nCookie: session=secret\r\n\r\n",
            "TRACE is not relayed: it would echo the request's credentials and cookies"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedByTheProxy")
  @DisplayName("valid HTTP that cannot be relayed faithfully: 501 from the proxy; the backend sees nothing")
  void refusedByTheProxy(String name, String request, String reason) throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(request);
      RawHttpClient.Response response = client.read("GET");
      // Answered by the engine (UnsupportedRequestException, through ErrorMapping), never parked.
      assertThat(response.status()).isEqualTo(501);
      assertThat(response.headers().first("Content-Type")).hasValueSatisfying(
          type -> assertThat(type).startsWith("text/plain"));
      assertThat(response.bodyText()).isEqualTo(reason + "\n");
    }
    assertBackendSawNothingAndServesNext();
  }

  static Stream<Arguments> validFraming() {
    return Stream.of(
        Arguments.of("Transfer-Encoding:  chunked (leading spaces: OWS)", "Transfer-Encoding:  chunked"),
        Arguments.of("Transfer-Encoding:\\tchunked (a tab: OWS)", "Transfer-Encoding:\tchunked"),
        Arguments.of("Transfer-Encoding: chunked  (trailing spaces: OWS)", "Transfer-Encoding: chunked  "),
        Arguments.of("Transfer-Encoding: CHUNKED (codings are case-insensitive)", "Transfer-Encoding: CHUNKED"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("validFraming")
  @DisplayName("valid, if unusual, chunked framing: relayed once, as chunked, body intact")
  void validFramingIsRelayed(String name, String field) throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(POST + field + "\r\n\r\n" + CHUNKED_ABC);
      RawHttpClient.Response response = client.read("POST");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("POST /p\nabc");
    }
    RawHttpBackend.Received received = relay.backend.take();
    assertThat(received.head().headers().all("Transfer-Encoding")).containsExactly("chunked");
    assertThat(received.bodyText()).isEqualTo("abc");
    assertBackendSawNothingAndServesNext();
  }

  /**
   * A control request is served normally, and it is the next request the backend sees: whatever
   * was sent before it never reached the backend.
   */
  private static void assertBackendSawNothingAndServesNext() throws Exception {
    String target = "/control-" + controls.incrementAndGet();
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send("GET " + target + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("GET " + target + "\n");
    }
    List<String> before = new ArrayList<>();
    for (String seen = relay.backend.take().head().target();
        !seen.equals(target);
        seen = relay.backend.take().head().target()) {
      before.add(seen);
    }
    assertThat(before).as("requests the backend saw before the control request").isEmpty();
  }
}
