package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.testkit.RawHttpClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Limits are answered by the proxy itself, before anything reaches an agent or the backend. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LimitsIT {
  private Relay relay;

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
  }

  @Test
  @DisplayName("a declared body over the limit: 413 at once; the backend never sees it")
  void declaredBodyTooLarge() throws Exception {
    relay = Relay.withAgent(engine -> engine.maxBodyBytes(1000));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n" + "x".repeat(1001));
      RawHttpClient.Response response = c.read("POST");
      assertThat(response.status()).isEqualTo(413);
      assertThat(response.bodyText()).contains("limit of 1000 bytes");
    }
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + "y".repeat(1000));
      assertThat(c.read("POST").status()).isEqualTo(200);
    }
    assertThat(relay.backend.take().head().target()).isEqualTo("/ok");
  }

  @Test
  @DisplayName("a chunked body that grows past the limit while streaming: 413")
  void streamedBodyTooLarge() throws Exception {
    relay = Relay.withAgent(engine -> engine.maxBodyBytes(1000));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      String chunk = "x".repeat(600);
      c.send(
          "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              + "258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
      RawHttpClient.Response response = c.read("POST");
      assertThat(response.status()).isEqualTo(413);
    }
    assertThat(relay.backend.received.poll(500, TimeUnit.MILLISECONDS)).isNull();
  }

  @Test
  @DisplayName("request headers over the limit: 431")
  void headersTooLarge() throws Exception {
    relay = Relay.withAgent(engine -> engine.maxHeadBytes(4096));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("GET /h HTTP/1.1\r\nHost: h\r\nX-Big: " + "z".repeat(5000) + "\r\n\r\n");
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.status()).isEqualTo(431);
      assertThat(response.bodyText()).contains("4096");
    }
  }

  @Test
  @DisplayName("too many concurrent polls for one backend: 429")
  void pollLimit() throws Exception {
    relay =
        Relay.withoutAgent(
            engine -> engine.maxPollsPerBackend(1).longPollTimeout(Duration.ofSeconds(5)));
    // Three polls at once with room for one: whichever comes first waits, the others get 429.
    List<AgentCalls> agents = List.of(
        new AgentCalls(relay.proxy), new AgentCalls(relay.proxy), new AgentCalls(relay.proxy));
    try {
      List<CompletableFuture<AgentCalls.Answer>> polls = new ArrayList<>();
      for (AgentCalls agent : agents) {
        polls.add(
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return agent.pending("b1");
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                },
                Executors.newSingleThreadExecutor()));
      }
      List<Integer> statuses = new ArrayList<>();
      for (CompletableFuture<AgentCalls.Answer> poll : polls) {
        AgentCalls.Answer answer = poll.get(20, TimeUnit.SECONDS);
        statuses.add(answer.status());
        if (answer.status() == 429) {
          assertThat(answer.body()).contains("too many concurrent polls");
        }
      }
      assertThat(statuses).containsExactlyInAnyOrder(200, 429, 429);
      // the slot is free again
      assertThat(agents.get(0).pending("b1").status()).isEqualTo(200);
    } finally {
      agents.forEach(AgentCalls::close);
    }
  }
}
