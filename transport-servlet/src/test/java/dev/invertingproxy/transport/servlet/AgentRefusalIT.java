package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.BackendRecord;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Our agent, refused by a real proxy, names the reason and recovers once the record is fixed. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AgentRefusalIT {
  private Relay relay;

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
  }

  @Test
  @DisplayName("403 for an agent the record does not name; it serves once the record names it")
  void recoversWhenTheRecordIsFixed() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.routeByRegistry());
    relay.storage.registry().put(record("someone-else"));
    relay.agent =
        dev.invertingproxy.core.DefaultAgentLoop.builder()
            .proxy(relay.proxy)
            .backendId(Relay.BACKEND_ID)
            .backend(relay.backend.uri())
            .bearerToken(Relay.AGENT_TOKEN)
            .drainTimeout(Duration.ofSeconds(2))
            .build();
    relay.agent.start();
    AgentCalls calls = new AgentCalls(relay.proxy);
    try {
      AgentCalls.Answer refused = calls.pending(Relay.BACKEND_ID);
      assertThat(refused.status()).isEqualTo(403);
      // The refusal names the identity the proxy saw and those the record allows.
      assertThat(refused.body()).contains("agent-1").contains("someone-else");
    } finally {
      calls.close();
    }
    Thread.sleep(500);
    assertThat(relay.storage.registry().lastSeen(Relay.BACKEND_ID)).isEmpty();
    relay.storage.registry().put(record("agent-1"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!relay.agent.isConnected()) {
      assertThat(System.nanoTime()).as("the agent reconnects by itself").isLessThan(deadline);
      Thread.sleep(20);
    }
    OkHttpClient client = new OkHttpClient();
    try (Response response =
        client.newCall(new Request.Builder().url(relay.url("/served").toString()).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }
    assertThat(relay.backend.take().head().target()).isEqualTo("/served");
  }

  private static BackendRecord record(String agentIdentity) {
    return new BackendRecord(
        Relay.BACKEND_ID, Set.of(agentIdentity), Set.of(BackendRecord.ALL_USERS), List.of("/"), null);
  }
}
