package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invertingproxy.core.ProxyListener;
import dev.invertingproxy.testkit.RawHttpClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The engine's events, as a listener added to a real Jetty proxy with our agent sees them. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProxyEventsIT {
  private final Recorder events = new Recorder();
  private Relay relay;

  /** Records every event. */
  static final class Recorder implements ProxyListener {
    final List<RequestEvent> requests = new CopyOnWriteArrayList<>();
    final List<AgentEvent> connected = new CopyOnWriteArrayList<>();
    final List<String> disconnected = new CopyOnWriteArrayList<>();
    final List<AgentRefusal> refusals = new CopyOnWriteArrayList<>();

    @Override
    public void requestEnded(RequestEvent event) {
      requests.add(event);
    }

    @Override
    public void agentConnected(AgentEvent event) {
      connected.add(event);
    }

    @Override
    public void agentDisconnected(AgentEvent event, boolean left) {
      disconnected.add(event.identity() + (left ? " left" : " went silent"));
    }

    @Override
    public void agentRefused(AgentRefusal refusal) {
      refusals.add(refusal);
    }
  }

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
  }

  private RawHttpClient.Response send(String request) throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(request);
      return client.read(request.substring(0, request.indexOf(' ')));
    }
  }

  private ProxyListener.RequestEvent event(String target) {
    return events.requests.stream()
        .filter(e -> e.target().equals(target))
        .reduce((a, b) -> {
          throw new AssertionError("two events for " + target);
        })
        .orElseThrow(() -> new AssertionError("no event for " + target));
  }

  @Test
  @DisplayName("each request once, when it is over: status, bytes, backend, reason")
  void requestEvents() throws Exception {
    relay = Relay.withAgent(engine -> engine.listener(events));
    assertThat(send("GET /hello?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").status())
        .isEqualTo(200);
    assertThat(send("GET /a/../b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").status())
        .isEqualTo(400);
    await().atMost(Duration.ofSeconds(5)).until(() -> events.requests.size() == 2);
    // Reported when the response is over on the proxy's side, which may be after the client read
    // it: the order of the two events is not fixed.
    ProxyListener.RequestEvent ok = event("/hello?x=1");
    assertThat(ok.method()).isEqualTo("GET");
    assertThat(ok.target()).isEqualTo("/hello?x=1");
    assertThat(ok.backendId()).isEqualTo(Relay.BACKEND_ID);
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.bytes()).isEqualTo("GET /hello?x=1\n".length()); // the echo backend's body
    assertThat(ok.complete()).isTrue();
    assertThat(ok.reason()).isNull();
    assertThat(ok.clientAddress()).isEqualTo("127.0.0.1");
    ProxyListener.RequestEvent refused = event("/a/../b");
    assertThat(refused.backendId()).isNull(); // refused before routing
    assertThat(refused.status()).isEqualTo(400);
    assertThat(refused.reason()).contains("dot segment");
  }

  @Test
  @DisplayName("a client that leaves while parked: reported once, with no status")
  void clientLeaves() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.listener(events));
    try (AgentCalls agent = new AgentCalls(relay.proxy)) {
      // An agent that polls (so the request is parked) but never answers.
      java.util.concurrent.CompletableFuture.runAsync(
          () -> {
            try {
              agent.pending(Relay.BACKEND_ID);
            } catch (java.io.IOException ignored) {
              // ends with the test
            }
          });
      await().atMost(Duration.ofSeconds(5)).until(() -> events.connected.size() == 1);
      try (RawHttpClient client = new RawHttpClient(relay.port())) {
        client.send("GET /left HTTP/1.1\r\nHost: h\r\n\r\n");
        Thread.sleep(200); // parked
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> events.requests.size() == 1);
      ProxyListener.RequestEvent left = events.requests.get(0);
      assertThat(left.status()).isZero();
      assertThat(left.complete()).isFalse();
      assertThat(left.reason()).contains("client left");
    }
  }

  @Test
  @DisplayName("agents: connected at the first poll, disconnected when they leave or go silent")
  void agentEvents() throws Exception {
    relay =
        Relay.withAgent(
            engine ->
                engine
                    .listener(events)
                    .longPollTimeout(Duration.ofMillis(500))
                    .livenessGrace(Duration.ZERO));
    await().atMost(Duration.ofSeconds(5)).until(() -> events.connected.size() == 1);
    ProxyListener.AgentEvent agent = events.connected.get(0);
    assertThat(agent.backendId()).isEqualTo(Relay.BACKEND_ID);
    assertThat(agent.identity()).isEqualTo("agent-1");
    assertThat(agent.address()).isEqualTo("127.0.0.1");
    assertThat(agent.agentId()).hasSize(32);
    // The proxy answers our agent's first poll at once: it knows the capabilities right away.
    await().atMost(Duration.ofSeconds(5)).until(relay.agent::isConnected);
    relay.agent.close(Duration.ofSeconds(2));
    relay.agent = null;
    await().atMost(Duration.ofSeconds(5)).until(() -> events.disconnected.contains("agent-1 left"));

    // An agent that polls once and then says nothing: gone after the liveness window.
    try (AgentCalls silent = new AgentCalls(relay.proxy)) {
      assertThat(silent.pending(Relay.BACKEND_ID).status()).isEqualTo(200);
    }
    assertThat(events.connected).hasSize(2);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> events.disconnected.contains("agent-1 went silent"));
    assertThat(events.connected).hasSize(2); // reported once each
  }

  @Test
  @DisplayName("refused agent calls: status, reason, address, identity")
  void refusals() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.listener(events));
    try (AgentCalls stranger = new AgentCalls(relay.proxy, "wrong-token")) {
      assertThat(stranger.pending(Relay.BACKEND_ID).status()).isEqualTo(401);
    }
    assertThat(events.refusals).singleElement().satisfies(
        refusal -> {
          assertThat(refusal.status()).isEqualTo(401);
          assertThat(refusal.address()).isEqualTo("127.0.0.1");
          assertThat(refusal.backendId()).isEqualTo(Relay.BACKEND_ID);
          assertThat(refusal.identity()).isNull();
          assertThat(refusal.reason()).contains("credentials");
        });
    assertThat(events.connected).isEmpty();
  }
}
