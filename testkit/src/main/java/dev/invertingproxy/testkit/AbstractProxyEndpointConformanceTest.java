package dev.invertingproxy.testkit;

import static dev.invertingproxy.testkit.KitSupport.chunk;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.spi.Storage;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The proxy endpoint conformance kit: what every binding of {@link ProxyEngine} to a server (the
 * servlet endpoint under Jetty, Tomcat, ...) must do. A binding's test extends this class and
 * implements {@link #startEndpoint(ProxyEngine)}, {@link #stopEndpoint()} and {@link
 * #newStorage()}; it is done when the kit passes.
 *
 * <p>The kit builds the engine itself (backend {@value #BACKEND_ID}, agents authenticated with
 * {@code Authorization: Bearer }{@value #TOKEN}, a 300 ms long poll) and plays both the client and
 * the agent by hand over raw sockets, speaking the v1 protocol as the reference Go agent does. The
 * storage comes from the subclass: the kit must not depend on a storage plugin (the in-memory one
 * runs the storage kit, so depending on it would be a cycle), and an endpoint may as well be
 * checked over the storage it will run with.
 *
 * <p>Declare optional {@link #capabilities()} ({@link Capability#PROMPT_DISCONNECT_DETECTION},
 * {@link Capability#END_USER_IDENTITY}) to run the tests that need them; opt a test out only
 * through {@link #knownGaps()}, with a reason the kit prints.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
public abstract class AbstractProxyEndpointConformanceTest {
  /** The backend every client request of the kit goes to. */
  protected static final String BACKEND_ID = "kit-backend";

  /** The one bearer token the engine accepts from agents. */
  protected static final String TOKEN = "kit-agent-token";

  /**
   * With {@link Capability#END_USER_IDENTITY}: the request header the endpoint takes the end user's
   * identity from.
   */
  public static final String END_USER_HEADER = "X-Kit-End-User";

  // The kits spell the wire protocol out literally on purpose, rather than use core's
  // ProtocolHeaders and AgentEndpoint: a conformance check must not follow the code it checks.
  private static final String REQUEST_ID = "X-Inverting-Proxy-Request-ID";
  private static final String START_TIME = "X-Inverting-Proxy-Request-Start-Time";
  private static final String USER_ID = "X-Inverting-Proxy-User-ID";

  /** The engine being served; rebuilt for each test. */
  protected ProxyEngine engine;

  /** The base URI {@link #startEndpoint} returned. */
  protected URI base;

  private Storage storage;

  /**
   * Serves {@code engine}: its client endpoint at {@code {base}*} and its agent endpoints at {@code
   * {base}agent/pending}, {@code agent/request} and {@code agent/response}, on 127.0.0.1.
   *
   * @return the base URI, ending with {@code /}
   */
  protected abstract URI startEndpoint(ProxyEngine engine) throws Exception;

  /** Stops what {@link #startEndpoint} started. */
  protected abstract void stopEndpoint() throws Exception;

  /** Returns a fresh, empty storage for one test; the kit closes it. */
  protected abstract Storage newStorage();

  /** Returns the optional capabilities this endpoint offers. */
  protected Set<Capability> capabilities() {
    return Set.of();
  }

  /** Test method name → why this endpoint cannot pass it yet. Printed, and the test skipped. */
  protected Map<String, String> knownGaps() {
    return Map.of();
  }

  @BeforeEach
  void startEngine(TestInfo info) throws Exception {
    KitSupport.skipIfKnownGap("proxy endpoint kit", knownGaps(), info);
    start(builder -> {});
  }

  @AfterEach
  void stopEngine() throws Exception {
    stop();
  }

  /** (Re)starts the engine and the endpoint with the kit's settings changed by {@code settings}. */
  protected void start(Consumer<ProxyEngine.Builder> settings) throws Exception {
    stop();
    storage = newStorage();
    ProxyEngine.Builder builder =
        ProxyEngine.builder()
            .storage(storage)
            .backend(BACKEND_ID)
            .agentAuthenticator(AgentAuthenticator.bearerTokens(Map.of(TOKEN, "kit-agent")))
            .longPollTimeout(Duration.ofMillis(300))
            .responseTimeout(Duration.ofSeconds(20));
    settings.accept(builder);
    engine = builder.build();
    base = startEndpoint(engine);
    assertThat(base.getPath()).as("the base URI's path").endsWith("/");
  }

  private void stop() throws Exception {
    if (engine != null) {
      try {
        stopEndpoint();
      } finally {
        engine.close();
        storage.close();
        engine = null;
      }
    }
  }

  private void require(Capability capability) {
    KitSupport.require(capabilities(), capability);
  }

  // ------------------------------------------------------------------ the agent, by hand

  /** An answer to one agent call. */
  protected record Answer(ResponseHead head, String body) {
    public int status() {
      return head.status();
    }

    public Headers headers() {
      return head.headers();
    }
  }

  /** The headers the kit's agent sends on every call: credentials and backend ID. */
  private static Headers agentHeaders() {
    return Headers.of(
        "Authorization", "Bearer " + TOKEN, "X-Inverting-Proxy-Backend-ID", BACKEND_ID);
  }

  private int port() {
    return base.getPort();
  }

  private String path(String relative) {
    return base.getRawPath() + relative;
  }

  /** Makes one agent call without a body on a new connection and reads the whole answer. */
  protected Answer agentCall(String method, String relative, Headers headers) throws IOException {
    return call(method, relative, headers, null);
  }

  /** Makes one agent call with a text/plain body on a new connection; reads the whole answer. */
  protected Answer agentCall(String method, String relative, Headers headers, String body)
      throws IOException {
    return call(method, relative, headers, body);
  }

  private Answer call(String method, String relative, Headers headers, @Nullable String body)
      throws IOException {
    StringBuilder request =
        new StringBuilder(
            method + " " + path(relative) + " HTTP/1.1\r\nHost: 127.0.0.1:" + port() + "\r\n");
    for (Header field : headers.fields()) {
      request.append(field.name()).append(": ").append(field.value()).append("\r\n");
    }
    if (body != null) {
      request.append("Content-Type: text/plain\r\n");
      request.append("Content-Length: ").append(body.getBytes(ISO_8859_1).length).append("\r\n");
    }
    request.append("\r\n");
    if (body != null) {
      request.append(body);
    }
    try (RawHttpClient agent = new RawHttpClient(port())) {
      agent.send(request.toString());
      RawHttpClient.Response response = agent.read(method);
      return new Answer(response.head(), new String(response.body(), ISO_8859_1));
    }
  }

  protected Answer pending() throws IOException {
    return agentCall("GET", "agent/pending", agentHeaders());
  }

  protected Answer read(String id) throws IOException {
    return agentCall("GET", "agent/request", with(agentHeaders(), REQUEST_ID, id));
  }

  protected Answer post(String id, String wire) throws IOException {
    return agentCall("POST", "agent/response", with(agentHeaders(), REQUEST_ID, id), wire);
  }

  private static Headers with(Headers headers, String name, String value) {
    return headers.toBuilder().add(name, value).build();
  }

  /** Polls until a request is offered (bounded: 30 polls of at most 300 ms); returns its ID. */
  protected String nextId() throws IOException {
    for (int i = 0; i < 30; i++) {
      Answer answer = pending();
      assertThat(answer.status()).as("agent/pending: %s", answer.body()).isEqualTo(200);
      List<String> ids = KitSupport.parseIds(answer.body());
      if (!ids.isEmpty()) {
        assertThat(ids).hasSize(1);
        return ids.get(0);
      }
    }
    throw new AssertionError("no request was offered to the agent");
  }

  /** A client connected to the endpoint. */
  protected RawHttpClient client() throws IOException {
    return new RawHttpClient(port());
  }

  /** Polls once, so that the backend counts as connected. */
  protected void agentConnects() throws IOException {
    assertThat(pending().status()).isEqualTo(200);
  }

  /** Parses a read's body as the HTTP/1.1 request it must be. */
  private static WireReader.Request parseRequest(String wire) throws IOException {
    return WireReader.parseRequest(wire.getBytes(ISO_8859_1));
  }

  /** A POST of agent/response whose body (the wire response) the test sends piece by piece. */
  private final class StreamingPost implements AutoCloseable {
    private final Socket socket;

    StreamingPost(String id) throws IOException {
      socket = new Socket(InetAddress.getLoopbackAddress(), port());
      socket.setSoTimeout(20_000);
      StringBuilder head =
          new StringBuilder(
              "POST " + path("agent/response") + " HTTP/1.1\r\nHost: 127.0.0.1:" + port() + "\r\n");
      for (Header field : with(agentHeaders(), REQUEST_ID, id).fields()) {
        head.append(field.name()).append(": ").append(field.value()).append("\r\n");
      }
      head.append("Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
      send(head.toString());
    }

    /** Sends {@code wire} as one chunk of the POST body. */
    void part(String wire) throws IOException {
      send(chunk(wire));
    }

    /** Ends the POST body and reads the answer. */
    Answer finish() throws IOException {
      send("0\r\n\r\n");
      WireReader reader = new WireReader(socket.getInputStream());
      ResponseHead head = reader.readResponseHead();
      String body =
          new String(reader.responseBody(head, "POST").stream().readAllBytes(), ISO_8859_1);
      return new Answer(head, body);
    }

    private void send(String text) throws IOException {
      socket.getOutputStream().write(text.getBytes(ISO_8859_1));
      socket.getOutputStream().flush();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  // ------------------------------------------------------------------ the exchange

  @Test
  @DisplayName("list, read and post: the client gets status, headers, body and trailers")
  void roundTrip() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send(
          "POST "
              + path("thing?x=%2F1")
              + " HTTP/1.1\r\nHost: public.example\r\nTE: trailers\r\n"
              + "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
      String id = nextId();

      Answer read = read(id);
      assertThat(read.status()).isEqualTo(200);
      WireReader.Request request = parseRequest(read.body());
      assertThat(request.head().method()).isEqualTo("POST");
      assertThat(request.head().target()).isEqualTo(path("thing?x=%2F1"));
      assertThat(request.head().version()).isEqualTo("HTTP/1.1");
      assertThat(request.head().headers().first("Host")).hasValue("public.example");
      assertThat(request.head().headers().first("Content-Type")).hasValue("text/plain");
      assertThat(request.bodyText()).isEqualTo("hello");

      Answer posted =
          post(
              id,
              "HTTP/1.1 201 Created\r\nX-From: agent\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + chunk("wor")
                  + chunk("ld")
                  + "0\r\nX-Checksum: abc\r\n\r\n");
      assertThat(posted.status()).as(posted.body()).isEqualTo(200);

      RawHttpClient.Response response = client.read("POST");
      assertThat(response.status()).isEqualTo(201);
      assertThat(response.headers().first("X-From")).hasValue("agent");
      assertThat(response.bodyText()).isEqualTo("world");
      assertThat(response.trailers().first("X-Checksum")).hasValue("abc");
    }
  }

  @Test
  @DisplayName("an empty long poll answers 200 with the JSON array [] when its wait ends")
  void emptyPoll() throws Exception {
    Answer answer = pending();
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body().strip()).isEqualTo("[]");
    assertThat(answer.headers().first("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
  }

  @Test
  @DisplayName(
      "a read carries the request ID and an RFC 3339 start time Go can parse; no user ID when none"
          + " is known")
  void readMetadata() throws Exception {
    agentConnects();
    Instant before = Instant.now().minusSeconds(1);
    try (RawHttpClient client = client()) {
      client.send(
          "GET "
              + path("meta")
              + " HTTP/1.1\r\nHost: public.example\r\n"
              + "X-Inverting-Proxy-User-ID: mallory\r\n\r\n");
      String id = nextId();
      Answer read = read(id);
      Instant after = Instant.now().plusSeconds(1);

      assertThat(read.status()).isEqualTo(200);
      assertThat(read.headers().all(REQUEST_ID)).containsExactly(id);
      assertThat(read.headers().all(START_TIME)).hasSize(1);
      Instant start = Rfc3339.parseAsGo(read.headers().first(START_TIME).orElseThrow());
      assertThat(start).isBetween(before, after);
      assertThat(read.headers().contains(USER_ID)).as("a user ID no one established").isFalse();
      assertThat(post(id, "HTTP/1.1 204 No Content\r\n\r\n").status()).isEqualTo(200);
      assertThat(client.read("GET").status()).isEqualTo(204);
    }
  }

  @Test
  @DisplayName(
      "a read carries the end user's identity when the endpoint knows it (END_USER_IDENTITY)")
  void readCarriesUserId() throws Exception {
    require(Capability.END_USER_IDENTITY);
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send(
          "GET "
              + path("me")
              + " HTTP/1.1\r\nHost: public.example\r\n"
              + END_USER_HEADER
              + ": alice@example.com\r\n\r\n");
      String id = nextId();
      Answer read = read(id);
      assertThat(read.headers().all(USER_ID)).containsExactly("alice@example.com");
      assertThat(post(id, "HTTP/1.1 204 No Content\r\n\r\n").status()).isEqualTo(200);
      assertThat(client.read("GET").status()).isEqualTo(204);
    }
  }

  @Test
  @DisplayName("the request body streams to the agent's read while the client sends it")
  void requestBodyStreamsToAgent() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send(
          "PUT "
              + path("upload")
              + " HTTP/1.1\r\nHost: public.example\r\nContent-Length: 10\r\n\r\nhello");
      String id = nextId();
      try (Socket agent = new Socket(InetAddress.getLoopbackAddress(), port())) {
        agent.setSoTimeout(20_000);
        agent
            .getOutputStream()
            .write(
                ("GET "
                        + path("agent/request")
                        + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                        + TOKEN
                        + "\r\nX-Inverting-Proxy-Backend-ID: "
                        + BACKEND_ID
                        + "\r\n"
                        + REQUEST_ID
                        + ": "
                        + id
                        + "\r\n\r\n")
                    .getBytes(ISO_8859_1));
        WireReader outer = new WireReader(agent.getInputStream());
        ResponseHead answer = outer.readResponseHead();
        assertThat(answer.status()).isEqualTo(200);
        InputStream wire = outer.responseBody(answer, "GET").stream();
        WireReader inner = new WireReader(wire);
        RequestHead head = inner.readRequestHead();
        InputStream body = inner.requestBody(head).stream();
        assertThat(new String(body.readNBytes(5), ISO_8859_1)).isEqualTo("hello");
        client.send("world"); // only now does the rest of the body exist
        assertThat(new String(body.readAllBytes(), ISO_8859_1)).isEqualTo("world");
      }
      assertThat(post(id, "HTTP/1.1 204 No Content\r\n\r\n").status()).isEqualTo(200);
      assertThat(client.read("PUT").status()).isEqualTo(204);
    }
  }

  @Test
  @DisplayName("the response streams to the client while the agent posts it")
  void responseStreamsToClient() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send("GET " + path("events") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = nextId();
      try (StreamingPost post = new StreamingPost(id)) {
        post.part(
            "HTTP/1.1 200 OK\r\n"
                + "Content-Type: text/event-stream\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n");
        post.part(chunk("data: 1\n\n"));
        WireReader reader = new WireReader(client.socket.getInputStream());
        ResponseHead head = reader.readResponseHead();
        assertThat(head.status()).isEqualTo(200);
        InputStream body = reader.responseBody(head, "GET").stream();
        assertThat(new String(body.readNBytes(9), ISO_8859_1)).isEqualTo("data: 1\n\n");
        post.part(chunk("data: 2\n\n") + "0\r\n\r\n"); // only now does the rest exist
        assertThat(new String(body.readAllBytes(), ISO_8859_1)).isEqualTo("data: 2\n\n");
        assertThat(post.finish().status()).isEqualTo(200);
      }
    }
  }

  // ------------------------------------------------------------------ refusals

  @Test
  @DisplayName("an unknown request ID gets 404 on read and on post, naming the ID")
  void unknownId() throws Exception {
    Answer read = read("0123");
    assertThat(read.status()).isEqualTo(404);
    Answer posted = post("0123", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assertThat(posted.status()).isEqualTo(404);
    assertThat(posted.body()).contains("0123");
  }

  @Test
  @DisplayName("a call without the backend or request ID header gets 400 naming the header")
  void missingHeaders() throws Exception {
    Headers token = Headers.of("Authorization", "Bearer " + TOKEN);
    Headers withBackend = agentHeaders();
    String wire = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for (Answer answer :
        List.of(
            agentCall("GET", "agent/pending", token),
            agentCall("GET", "agent/request", with(token, REQUEST_ID, "x")),
            agentCall("GET", "agent/request", withBackend),
            agentCall("POST", "agent/response", with(token, REQUEST_ID, "x"), wire),
            agentCall("POST", "agent/response", withBackend, wire))) {
      assertThat(answer.status()).isEqualTo(400);
      assertThat(answer.body()).contains("X-Inverting-Proxy-");
    }
  }

  @Test
  @DisplayName(
      "a call without a valid bearer token gets 401 with WWW-Authenticate, on every endpoint")
  void unauthenticated() throws Exception {
    String wire = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for (Headers credentials :
        List.of(
            Headers.empty(),
            Headers.of("Authorization", "Bearer wrong-token"),
            Headers.of("Authorization", "Basic " + TOKEN),
            Headers.of("Authorization", "Bearer"))) {
      Headers headers =
          credentials.toBuilder()
              .add("X-Inverting-Proxy-Backend-ID", BACKEND_ID)
              .add(REQUEST_ID, "x")
              .build();
      for (Answer answer :
          List.of(
              agentCall(
                  "GET",
                  "agent/pending",
                  credentials.toBuilder().add("X-Inverting-Proxy-Backend-ID", BACKEND_ID).build()),
              agentCall("GET", "agent/request", headers),
              agentCall("POST", "agent/response", headers, wire))) {
        assertThat(answer.status()).as("credentials %s", credentials).isEqualTo(401);
        assertThat(answer.headers().first("WWW-Authenticate"))
            .hasValueSatisfying(value -> assertThat(value).startsWithIgnoringCase("Bearer"));
      }
    }
  }

  @Test
  @DisplayName(
      "a posted body that is not an HTTP response gets 400; the request still waits for a good one")
  void malformedResponse() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send("GET " + path("m") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = nextId();
      Answer bad = post(id, "this is not HTTP\r\n\r\n");
      assertThat(bad.status()).isEqualTo(400);
      assertThat(bad.body()).isNotBlank();
      assertThat(post(id, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").status())
          .isEqualTo(200);
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("ok");
    }
  }

  @Test
  @DisplayName("a second response is refused with 409; the first reaches the client intact")
  void duplicateResponse() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send("GET " + path("d") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = nextId();
      assertThat(post(id, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst").status())
          .isEqualTo(200);
      assertThat(post(id, "HTTP/1.1 500 No\r\nContent-Length: 6\r\n\r\nsecond").status())
          .isEqualTo(409);
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("first");
    }
  }

  @Test
  @DisplayName(
      "a repeated read before any body streamed is served again (the Go agent retries reads)")
  void repeatedRead() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send("GET " + path("r?again=1") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = nextId();
      Answer first = read(id);
      Answer second = read(id);
      assertThat(first.status()).isEqualTo(200);
      assertThat(second.status()).isEqualTo(200);
      assertThat(second.body()).isEqualTo(first.body());
      assertThat(second.headers().first(START_TIME)).isEqualTo(first.headers().first(START_TIME));
      assertThat(post(id, "HTTP/1.1 204 No Content\r\n\r\n").status()).isEqualTo(200);
      assertThat(client.read("GET").status()).isEqualTo(204);
    }
  }

  @Test
  @DisplayName("a read after the body streamed to an earlier read is refused with 409")
  void readAfterBodyStreamed() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send(
          "POST "
              + path("once")
              + " HTTP/1.1\r\nHost: public.example\r\nContent-Length: 3\r\n\r\nabc");
      String id = nextId();
      assertThat(parseRequest(read(id).body()).bodyText()).isEqualTo("abc");
      assertThat(read(id).status()).isEqualTo(409);
      assertThat(post(id, "HTTP/1.1 204 No Content\r\n\r\n").status()).isEqualTo(200);
      assertThat(client.read("POST").status()).isEqualTo(204);
    }
  }

  // ------------------------------------------------------------------ failures clients see

  @Test
  @DisplayName("no agent polling: 503 at once, with Retry-After and a reason")
  void noAgent() throws Exception {
    try (RawHttpClient client = client()) {
      client.socket.setSoTimeout(10_000); // far below the 20 s response wait
      client.send("GET " + path("x") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(503);
      assertThat(response.headers().contains("Retry-After")).isTrue();
      assertThat(response.bodyText()).isNotBlank();
    }
  }

  @Test
  @DisplayName("an agent polls but never answers: 504 once the response wait is over")
  void silentAgent() throws Exception {
    start(builder -> builder.responseTimeout(Duration.ofMillis(500)));
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send("GET " + path("x") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(504);
      assertThat(response.bodyText()).isNotBlank();
    }
  }

  @Test
  @DisplayName(
      "an agent that dies mid-response: the client's response is visibly cut, never complete")
  void agentDiesMidResponse() throws Exception {
    agentConnects();
    for (String partial :
        List.of(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("0123456789"))) {
      try (RawHttpClient client = client()) {
        client.send("GET " + path("cut") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
        String id = nextId();
        WireReader reader = new WireReader(client.socket.getInputStream());
        InputStream body;
        try (StreamingPost dying = new StreamingPost(id)) {
          dying.part(partial);
          ResponseHead head = reader.readResponseHead();
          assertThat(head.status()).isEqualTo(200);
          body = reader.responseBody(head, "GET").stream();
          assertThat(new String(body.readNBytes(10), ISO_8859_1)).isEqualTo("0123456789");
        } // the agent's connection closes here, mid-body
        assertThatThrownBy(body::readAllBytes).as(partial).isInstanceOf(IOException.class);
      }
    }
  }

  @Test
  @DisplayName(
      "a client that leaves while parked is withdrawn promptly (PROMPT_DISCONNECT_DETECTION)")
  void clientLeavesWhileParked() throws Exception {
    require(Capability.PROMPT_DISCONNECT_DETECTION);
    agentConnects();
    String id;
    try (RawHttpClient client = client()) {
      client.send("GET " + path("gone") + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      id = nextId();
    }
    // Far less than the 20 s response wait: the endpoint noticed the disconnect itself.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (read(id).status() != 404) {
      if (System.nanoTime() > deadline) {
        fail("the request of a client that left was still served 5 s later");
      }
      Thread.sleep(20);
    }
    assertThat(KitSupport.parseIds(pending().body())).doesNotContain(id);
  }

  // ------------------------------------------------------------------ hygiene

  @Test
  @DisplayName(
      "hop-by-hop and client-sent X-Inverting-Proxy-* headers never reach the agent's view")
  void headerHygiene() throws Exception {
    agentConnects();
    try (RawHttpClient client = client()) {
      client.send(
          "GET "
              + path("h")
              + " HTTP/1.1\r\nHost: public.example\r\n"
              + "Connection: keep-alive, X-Secret\r\nX-Secret: hop\r\nKeep-Alive: timeout=5\r\n"
              + "Proxy-Authorization: Basic abc\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\n"
              + "Trailer: X-Never\r\n"
              + "X-Inverting-Proxy-User-ID: mallory\r\nx-inverting-proxy-backend-id: other\r\n"
              + "X-Inverting-Proxy-Request-ID: forged\r\n"
              + "X-INVERTING-PROXY-REQUEST-START-TIME: 1999-01-01T00:00:00Z\r\n"
              + "X-Inverting-Proxy-VM-ID: vm\r\nX-Kept: yes\r\n\r\n");
      String id = nextId();
      Answer read = read(id);
      assertThat(read.headers().all(REQUEST_ID)).containsExactly(id);
      assertThat(read.headers().all(START_TIME)).doesNotContain("1999-01-01T00:00:00Z");
      assertThat(read.headers().contains(USER_ID)).isFalse();
      Headers seen = parseRequest(read.body()).head().headers();
      for (String dropped :
          List.of(
              "Connection",
              "X-Secret",
              "Keep-Alive",
              "Proxy-Authorization",
              "Proxy-Connection",
              "TE",
              "Trailer")) {
        assertThat(seen.contains(dropped)).as(dropped).isFalse();
      }
      assertThat(seen.fields())
          .filteredOn(field -> field.name().regionMatches(true, 0, "X-Inverting-Proxy-", 0, 18))
          .isEmpty();
      assertThat(seen.first("X-Kept")).hasValue("yes");
      assertThat(post(id, "HTTP/1.1 204 No Content\r\n\r\n").status()).isEqualTo(200);
      assertThat(client.read("GET").status()).isEqualTo(204);
    }
  }
}
