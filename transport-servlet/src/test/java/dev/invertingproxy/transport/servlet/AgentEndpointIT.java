package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The agent-facing endpoints, driven by hand: what the proxy endpoint kit
 * ({@link JettyProxyEndpointConformanceTest}) leaves to this binding: request ID format, wrong
 * methods and paths, and the exact {@code WWW-Authenticate} value.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AgentEndpointIT {
  private Relay relay;
  private AgentCalls agent;
  private OkHttpClient client;

  @BeforeEach
  void start() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.longPollTimeout(Duration.ofMillis(500)));
    agent = new AgentCalls(relay.proxy);
    client = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
    client.dispatcher().executorService().shutdownNow();
    relay.close();
  }

  /** Sends a client request in the background once an agent has polled; returns its ID. */
  private CompletableFuture<Response> clientRequest(String method, String body) throws Exception {
    assertThat(agent.pending("b1").status()).isEqualTo(200); // the backend is live now
    Request.Builder request = new Request.Builder().url(relay.url("/thing?x=1").toString());
    if (body != null) {
      request.method(method, RequestBody.create(body, MediaType.get("text/plain")));
    } else {
      request.method(method, null);
    }
    CompletableFuture<Response> response = new CompletableFuture<>();
    client
        .newCall(request.build())
        .enqueue(
            new okhttp3.Callback() {
              @Override
              public void onFailure(okhttp3.Call call, java.io.IOException e) {
                response.completeExceptionally(e);
              }

              @Override
              public void onResponse(okhttp3.Call call, Response r) {
                response.complete(r);
              }
            });
    return response;
  }

  private String nextId() throws Exception {
    for (int i = 0; i < 20; i++) {
      AgentCalls.Answer answer = agent.pending("b1");
      assertThat(answer.status()).isEqualTo(200);
      String json = answer.body().trim();
      if (!json.equals("[]")) {
        assertThat(json).startsWith("[\"").endsWith("\"]");
        return json.substring(2, json.length() - 2);
      }
    }
    throw new AssertionError("no request was offered");
  }

  @Test
  @DisplayName("list, read and post as the reference agent does; the client gets the response")
  void v1Exchange() throws Exception {
    CompletableFuture<Response> response = clientRequest("POST", "hello");
    String id = nextId();
    assertThat(id).matches("[0-9a-f]{32}");

    AgentCalls.Answer read = agent.read("b1", id);
    assertThat(read.status()).isEqualTo(200);
    assertThat(read.headers().get("X-Inverting-Proxy-Request-ID")).isEqualTo(id);
    Instant start = Instant.parse(read.headers().get("X-Inverting-Proxy-Request-Start-Time"));
    assertThat(start).isBefore(Instant.now().plusSeconds(1));
    assertThat(read.body()).startsWith("POST /thing?x=1 HTTP/1.1\r\n").endsWith("\r\n\r\nhello");

    AgentCalls.Answer posted =
        agent.respond(
            "b1",
            id,
            "HTTP/1.1 201 Created\r\nX-From: agent\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nworld\r\n0\r\n\r\n");
    assertThat(posted.status()).isEqualTo(200);
    try (Response r = response.get(10, TimeUnit.SECONDS)) {
      assertThat(r.code()).isEqualTo(201);
      assertThat(r.header("X-From")).isEqualTo("agent");
      assertThat(r.body().string()).isEqualTo("world");
    }
  }

  @Test
  @DisplayName("wrong methods and unknown agent paths get 405 and 404")
  void wrongMethodOrPath() throws Exception {
    try (Response r =
        client
            .newCall(
                new Request.Builder()
                    .url(relay.proxy.resolve("agent/pending").toString())
                    .post(RequestBody.create("", null))
                    .header("X-Inverting-Proxy-Backend-ID", "b1")
                    .build())
            .execute()) {
      assertThat(r.code()).isEqualTo(405);
      assertThat(r.header("Allow")).isEqualTo("GET");
    }
    try (Response r =
        client
            .newCall(new Request.Builder().url(relay.proxy.resolve("agent/other").toString()).build())
            .execute()) {
      assertThat(r.code()).isEqualTo(404);
    }
  }

  @Test
  @DisplayName("agents without a valid bearer token get 401 on every endpoint")
  void unauthenticatedAgents() throws Exception {
    for (String token : java.util.Arrays.asList(null, "wrong-token")) {
      try (AgentCalls stranger = new AgentCalls(relay.proxy, token)) {
        for (AgentCalls.Answer answer :
            List.of(
                stranger.pending("b1"),
                stranger.read("b1", "x"),
                stranger.respond("b1", "x", "HTTP/1.1 200 OK\r\n\r\n"))) {
          assertThat(answer.status()).isEqualTo(401);
          assertThat(answer.headers().get("WWW-Authenticate")).isEqualTo("Bearer");
        }
      }
    }
  }

  @Test
  @DisplayName("a registered backend names its agents: another valid agent gets 403")
  void registeredBackendNamesItsAgents() throws Exception {
    relay.storage.registry().put(
        new dev.invertingproxy.BackendRecord(
            "b1", java.util.Set.of("someone-else"), java.util.Set.of("allUsers"), List.of("/"), null));
    AgentCalls.Answer refused = agent.pending("b1");
    assertThat(refused.status()).isEqualTo(403);
    assertThat(refused.body()).contains("may not act for backend b1");
    relay.storage.registry().put(
        new dev.invertingproxy.BackendRecord(
            "b1", java.util.Set.of("agent-1"), java.util.Set.of("allUsers"), List.of("/"), null));
    assertThat(agent.pending("b1").status()).isEqualTo(200);
  }

  @Test
  @DisplayName("an agent of backend A cannot list, read or answer backend B's requests")
  void agentsAreIsolatedPerBackend() throws Exception {
    CompletableFuture<Response> victim = clientRequest("GET", null); // parked for b1
    String id = nextId();
    // b1 now belongs to another agent; ours (agent-1) is registered for "mine" only.
    relay.storage.registry().put(
        new dev.invertingproxy.BackendRecord(
            "b1", java.util.Set.of("agent-9"), java.util.Set.of("allUsers"), List.of("/"), null));
    relay.storage.registry().put(
        new dev.invertingproxy.BackendRecord(
            "mine", java.util.Set.of("agent-1"), java.util.Set.of("allUsers"), List.of("/mine"), null));
    assertThat(agent.pending("b1").status()).isEqualTo(403);
    assertThat(agent.read("b1", id).status()).isEqualTo(403);
    assertThat(agent.respond("b1", id, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake").status())
        .isEqualTo(403);
    // acting as its own backend with the victim's ID does not help: the ID belongs to b1
    assertThat(agent.read("mine", id).status()).isEqualTo(404);
    assertThat(agent.respond("mine", id, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake").status())
        .isEqualTo(404);
    // a made-up backend ID is refused once backends are registered
    assertThat(agent.pending("made-up").status()).isEqualTo(403);
    // without a token: 401 everywhere
    try (AgentCalls stranger = new AgentCalls(relay.proxy, null)) {
      assertThat(stranger.read("b1", id).status()).isEqualTo(401);
    }
    assertThat(victim).isNotDone(); // nobody answered the victim
    victim.cancel(true);
  }
}
