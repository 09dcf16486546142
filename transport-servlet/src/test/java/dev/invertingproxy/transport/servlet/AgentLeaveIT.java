package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.core.DefaultAgentLoop;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An agent that stops cleanly says so (extension {@code leave-notice}): clients that come after
 * it get 503 at once instead of waiting for a response time-out, unless another agent serves.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AgentLeaveIT {
  private final OkHttpClient http =
      new OkHttpClient.Builder().readTimeout(Duration.ofSeconds(50)).build();
  private Relay relay;

  @AfterEach
  void stop() throws Exception {
    http.dispatcher().executorService().shutdownNow();
    http.connectionPool().evictAll();
    if (relay != null) {
      relay.close();
    }
  }

  private Response get(String path) throws IOException {
    return http.newCall(new Request.Builder().url(relay.url(path).toString()).build()).execute();
  }

  private DefaultAgentLoop secondAgent() {
    DefaultAgentLoop agent =
        DefaultAgentLoop.builder()
            .proxy(relay.proxy)
            .backendId(Relay.BACKEND_ID)
            .backend(relay.backend.uri())
            .bearerToken(Relay.AGENT_TOKEN)
            .drainTimeout(Duration.ofSeconds(2))
            .build();
    agent.start();
    return agent;
  }

  @Test
  @DisplayName("the last agent stops: the next client gets 503 at once, not a 504 a minute later")
  void lastAgentLeaves() throws Exception {
    relay = Relay.withAgent(engine -> engine.responseTimeout(Duration.ofSeconds(40)));
    try (Response response = get("/before")) {
      assertThat(response.code()).isEqualTo(200);
    }
    relay.agent.close(Duration.ofSeconds(2));
    long start = System.nanoTime();
    try (Response response = get("/after")) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.body().string()).contains("no agent is connected for backend b1");
    }
    // At once: the response wait is 40 s.
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
    assertThat(relay.backend.take().head().target()).isEqualTo("/before");
    assertThat(relay.backend.received).isEmpty();
  }

  @Test
  @DisplayName("the agent endpoints of leave-notice: first poll answered at once, goodbye 204 or 400")
  void endpoints() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.longPollTimeout(Duration.ofSeconds(20)));
    try (AgentCalls agent = new AgentCalls(relay.proxy)) {
      long start = System.nanoTime();
      AgentCalls.Answer first = agent.pendingAs(Relay.BACKEND_ID, "agent-a");
      // At once (the long poll is 20 s), with the capabilities: the agent learns them at its start.
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
      assertThat(first.status()).isEqualTo(200);
      assertThat(first.body()).isEqualTo("[]");
      assertThat(first.headers().get("X-Inverting-Proxy-Capabilities")).contains("leave-notice");
      assertThat(relay.storage.registry().lastSeen(Relay.BACKEND_ID)).isPresent(); // connected
      assertThat(agent.leave(Relay.BACKEND_ID, null).status()).isEqualTo(400);
      assertThat(agent.leave(Relay.BACKEND_ID, "agent-a").status()).isEqualTo(204);
      assertThat(relay.storage.registry().lastSeen(Relay.BACKEND_ID)).isEmpty();
      try (Response response = get("/after-goodbye")) {
        assertThat(response.code()).isEqualTo(503);
      }
      // A poll of that agent ID now (one sent before it closed) is refused, not counted.
      AgentCalls.Answer late = agent.pendingAs(Relay.BACKEND_ID, "agent-a");
      assertThat(late.status()).isEqualTo(403);
      assertThat(late.body()).contains("said goodbye");
      // An ID that is not one: 400 on any call.
      AgentCalls.Answer bad = agent.pendingAs(Relay.BACKEND_ID, "not an id");
      assertThat(bad.status()).isEqualTo(400);
      assertThat(bad.body()).contains("X-Inverting-Proxy-Agent-ID");
      // A goodbye of an agent that is not counted changes nothing.
      assertThat(agent.leave(Relay.BACKEND_ID, "never-seen").status()).isEqualTo(204);
    }
  }

  @Test
  @DisplayName("a caller that names itself anew on every poll is answered at once at most once a second")
  void firstAnswersAreRateLimited() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.longPollTimeout(Duration.ofSeconds(2)));
    try (AgentCalls agent = new AgentCalls(relay.proxy)) {
      assertThat(agent.pendingAs(Relay.BACKEND_ID, "fresh-1").status()).isEqualTo(200);
      long start = System.nanoTime();
      assertThat(agent.pendingAs(Relay.BACKEND_ID, "fresh-2").status()).isEqualTo(200);
      // Not at once: the long poll (2 s) ran. (A lower bound: a slow machine only adds to it.)
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isGreaterThanOrEqualTo(Duration.ofMillis(1500));
    }
  }

  @Test
  @DisplayName("one of two agents stops: the other serves on, no client sees an error")
  void otherAgentServesOn() throws Exception {
    relay = Relay.withAgent();
    DefaultAgentLoop second = secondAgent();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!second.isConnected()) { // both poll
        assertThat(System.nanoTime()).isLessThan(deadline);
        Thread.sleep(10);
      }
      relay.agent.close(Duration.ofSeconds(2));
      for (int i = 0; i < 10; i++) {
        try (Response response = get("/after-" + i)) {
          assertThat(response.code()).isEqualTo(200);
        }
      }
    } finally {
      second.close(Duration.ofSeconds(2));
    }
  }

  @Test
  @DisplayName("a request in flight is still answered after the goodbye; new ones get 503")
  void inFlightIsAnswered() throws Exception {
    relay = Relay.withAgent();
    CountDownLatch inBackend = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    relay.backend.respondWith(
        (request, out) -> {
          inBackend.countDown();
          try {
            release.await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          dev.invertingproxy.testkit.RawHttpBackend.echo(request, out);
        });
    CompletableFuture<Integer> slow =
        CompletableFuture.supplyAsync(
            () -> {
              try (Response response = get("/slow")) {
                return response.code();
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    assertThat(inBackend.await(10, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<Boolean> closing =
        CompletableFuture.supplyAsync(() -> relay.agent.close(Duration.ofSeconds(20)));
    // The goodbye is said before the drain: a new client is refused while /slow is in flight.
    // (A request that arrives while the agent is closing its polls may be taken by one of them and
    // wait for the response time-out: attempts give up after a second.)
    OkHttpClient impatient = http.newBuilder().readTimeout(Duration.ofSeconds(1)).build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int status = 0;
    while (status != 503 && System.nanoTime() < deadline) {
      try (Response response =
          impatient.newCall(new Request.Builder().url(relay.url("/new").toString()).build()).execute()) {
        status = response.code();
      } catch (java.net.SocketTimeoutException parkedMeanwhile) {
        status = 0;
      }
    }
    assertThat(status).isEqualTo(503);
    release.countDown();
    assertThat(slow.get(20, TimeUnit.SECONDS)).isEqualTo(200);
    assertThat(closing.get(20, TimeUnit.SECONDS)).isTrue(); // drained
  }
}
