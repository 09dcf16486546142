package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.testkit.RawHttpClient;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What clients see when a part of the relay is missing or fails. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FailureIT {
  private Relay relay;
  private OkHttpClient client;

  @BeforeEach
  void client() {
    // A short read timeout: answers that should come "at once" must not wait for any time-out.
    client =
        new OkHttpClient.Builder()
            .readTimeout(10, TimeUnit.SECONDS)
            .retryOnConnectionFailure(false)
            .build();
  }

  @AfterEach
  void stop() throws Exception {
    client.dispatcher().executorService().shutdownNow();
    if (relay != null) {
      relay.close();
    }
  }

  private Response get(String path) throws Exception {
    return client.newCall(new Request.Builder().url(relay.url(path).toString()).build()).execute();
  }

  @Test
  @DisplayName("no agent polling: 503 at once, with a reason and Retry-After")
  void noAgent() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.responseTimeout(Duration.ofSeconds(50)));
    try (Response response = get("/x")) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header("Retry-After")).isNotNull();
      assertThat(response.body().string()).contains("no agent is connected for backend b1");
    }
  }

  @Test
  @DisplayName("an agent polls but never answers: 504 after the response wait")
  void silentAgent() throws Exception {
    relay =
        Relay.withoutAgent(
            engine ->
                engine.responseTimeout(Duration.ofSeconds(1)).longPollTimeout(Duration.ofMillis(300)));
    try (AgentCalls silent = new AgentCalls(relay.proxy)) {
      assertThat(silent.pending("b1").status()).isEqualTo(200);
      try (Response response = get("/x")) {
        assertThat(response.code()).isEqualTo(504);
        assertThat(response.body().string())
            .contains("no response from backend b1 within 1 s")
            .contains("an agent is connected");
      }
    }
  }

  @Test
  @DisplayName("the backend is down: 502 with a reason from the agent")
  void backendDown() throws Exception {
    URI closed;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = URI.create("http://127.0.0.1:" + socket.getLocalPort());
    }
    relay = Relay.withoutAgent(engine -> {});
    relay.startAgent(closed);
    try (Response response = get("/x")) {
      assertThat(response.code()).isEqualTo(502);
      assertThat(response.body().string()).contains("could not reach the backend");
    }
  }

  @Test
  @DisplayName("a client that leaves while its request is parked: the request is never delivered")
  void clientLeavesWhileParked() throws Exception {
    relay = playedByHand();
    try (AgentCalls agent = new AgentCalls(relay.proxy)) {
      assertThat(agent.pending("b1").status()).isEqualTo(200); // the backend counts as live
      try (RawHttpClient c = new RawHttpClient(relay.port())) {
        c.send("GET /parked HTTP/1.1\r\nHost: public.example\r\n\r\n");
        Thread.sleep(200); // let the proxy park it
      }
      Thread.sleep(1000); // the disconnect must be noticed promptly, not at some time-out
      AgentCalls.Answer offered = agent.pending("b1");
      assertThat(offered.status()).isEqualTo(200);
      assertThat(offered.body()).isEqualTo("[]");
    }
  }

  @Test
  @DisplayName("a client that leaves after its body was read: the agent's answer is refused")
  void clientLeavesAfterBodyRead() throws Exception {
    relay = playedByHand();
    try (AgentCalls agent = new AgentCalls(relay.proxy)) {
      assertThat(agent.pending("b1").status()).isEqualTo(200);
      String id;
      try (RawHttpClient c = new RawHttpClient(relay.port())) {
        c.send("POST /p HTTP/1.1\r\nHost: public.example\r\nContent-Length: 3\r\n\r\nabc");
        id = nextId(agent);
        AgentCalls.Answer read = agent.read("b1", id);
        assertThat(read.body()).endsWith("\r\n\r\nabc");
      }
      Thread.sleep(1000); // the disconnect must be noticed promptly
      AgentCalls.Answer posted =
          agent.respond("b1", id, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      assertThat(posted.status()).isEqualTo(404);
    }
  }

  /** Opens the agent's post for {@code id} and breaks the connection before any response byte. */
  private void dieBeforeAnswering(String id) throws Exception {
    try (java.net.Socket dying =
        new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), relay.port())) {
      String post =
          "POST /agent/response HTTP/1.1\r\nHost: proxy\r\nX-Inverting-Proxy-Backend-ID: b1\r\n"
              + "Authorization: Bearer " + Relay.AGENT_TOKEN + "\r\n"
              + "X-Inverting-Proxy-Request-ID: " + id + "\r\nTransfer-Encoding: chunked\r\n\r\n";
      dying.getOutputStream().write(post.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      dying.getOutputStream().flush();
      dying.setSoLinger(true, 0); // abortive close, as when the agent's process dies
    }
  }

  @Test
  @DisplayName("an agent that dies after claiming, before answering: another agent serves it")
  void agentDiesBeforeAnsweringIsReplaced() throws Exception {
    relay = playedByHand();
    try (AgentCalls agent = new AgentCalls(relay.proxy);
        RawHttpClient c = new RawHttpClient(relay.port())) {
      assertThat(agent.pending("b1").status()).isEqualTo(200);
      c.send("GET /again HTTP/1.1\r\nHost: public.example\r\n\r\n");
      String id = nextId(agent);
      assertThat(agent.read("b1", id).status()).isEqualTo(200);
      dieBeforeAnswering(id);
      relay.startAgent(relay.backend.uri()); // a healthy agent takes the request offered again
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("GET /again\n");
    }
  }

  @Test
  @DisplayName("an agent that dies after the request body streamed to it: the client gets 502")
  void agentDiesAfterBodyStreamed() throws Exception {
    relay = playedByHand();
    try (AgentCalls agent = new AgentCalls(relay.proxy);
        RawHttpClient c = new RawHttpClient(relay.port())) {
      assertThat(agent.pending("b1").status()).isEqualTo(200);
      c.send("POST /once HTTP/1.1\r\nHost: public.example\r\nContent-Length: 3\r\n\r\nabc");
      String id = nextId(agent);
      assertThat(agent.read("b1", id).body()).endsWith("abc");
      dieBeforeAnswering(id);
      RawHttpClient.Response response = c.read("POST");
      assertThat(response.status()).isEqualTo(502);
      assertThat(response.bodyText()).contains("failed before answering");
    }
  }

  @Test
  @DisplayName("a client with an empty body (Content-Length: 0) that leaves while parked is noticed")
  void emptyBodyClientLeaves() throws Exception {
    relay = playedByHand();
    try (AgentCalls agent = new AgentCalls(relay.proxy)) {
      assertThat(agent.pending("b1").status()).isEqualTo(200);
      try (RawHttpClient c = new RawHttpClient(relay.port())) {
        c.send("POST /empty HTTP/1.1\r\nHost: public.example\r\nContent-Length: 0\r\n\r\n");
        Thread.sleep(200); // let the proxy park it
      }
      Thread.sleep(1000);
      assertThat(agent.pending("b1").body()).isEqualTo("[]");
    }
  }

  @Test
  @DisplayName("an upload that lasts longer than the response wait is not cut by it")
  void slowUploadOutlastsResponseWait() throws Exception {
    relay = Relay.withAgent(engine -> engine.responseTimeout(Duration.ofSeconds(1)));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("POST /slow-upload HTTP/1.1\r\nHost: public.example\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int i = 0; i < 6; i++) { // 3 s of upload: three times the response wait
        c.send("1\r\nx\r\n");
        Thread.sleep(500);
      }
      c.send("0\r\n\r\n");
      RawHttpClient.Response response = c.read("POST");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("POST /slow-upload\nxxxxxx");
    }
  }

  @Test
  @DisplayName("routing by records: single-backend mode until a record exists, then 404 / 503 / 200")
  void routingByRegistry() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.routeByRegistry("b1"));
    relay.startAgent(relay.backend.uri());
    try (Response response = get("/anything")) {
      assertThat(response.code()).isEqualTo(200); // no record yet: everything goes to b1
    }
    relay.storage.registry().put(
        new dev.invertingproxy.BackendRecord(
            "b1", java.util.Set.of("agent-1"), java.util.Set.of("allUsers"), java.util.List.of("/app"), null));
    relay.storage.registry().put(
        new dev.invertingproxy.BackendRecord(
            "b9", java.util.Set.of("agent-9"), java.util.Set.of("allUsers"), java.util.List.of("/other"), null));
    try (Response response = get("/app/page")) {
      assertThat(response.code()).isEqualTo(200);
    }
    try (Response response = get("/apple")) { // not on a segment boundary of /app
      assertThat(response.code()).isEqualTo(404);
      assertThat(response.body().string()).contains("no backend serves this request");
    }
    try (Response response = get("/other/x")) { // routed, but b9 has no agent
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.body().string()).contains("backend b9");
    }
  }

  @Test
  @DisplayName("spoofing: a client-sent user ID never reaches the backend, even with forward-user-id")
  void clientCannotSpoofTheUserId() throws Exception {
    relay = Relay.withoutAgent(engine -> {});
    relay.startAgent(relay.backend.uri(), agent -> agent.forwardUserId(true));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send(
          "GET /me HTTP/1.1\r\nHost: public.example\r\nX-Inverting-Proxy-User-ID: admin@example.com\r\n"
              + "x-inverting-proxy-user-id: root\r\n\r\n");
      assertThat(c.read("GET").status()).isEqualTo(200);
    }
    // no authenticated user: the backend gets no identity at all, certainly not the client's
    assertThat(relay.backend.take().head().headers().contains("X-Inverting-Proxy-User-ID")).isFalse();
  }

  /**
   * A relay without our agent (the test plays the agent by hand): short long polls, and a
   * response wait far longer than any test, so nothing here is decided by a time-out.
   */
  private static Relay playedByHand() throws Exception {
    return Relay.withoutAgent(
        engine -> engine.responseTimeout(Duration.ofSeconds(30)).longPollTimeout(Duration.ofMillis(300)));
  }

  private static String nextId(AgentCalls agent) throws Exception {
    for (int i = 0; i < 20; i++) {
      String json = agent.pending("b1").body().trim();
      if (!json.equals("[]")) {
        return json.substring(2, json.length() - 2);
      }
    }
    throw new AssertionError("no request was offered");
  }
}
