package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.StorageException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Presence bookkeeping reaches the registry at most once a second per backend, and stays true. */
class AgentPresenceTest {
  private static final Instant T0 = Instant.parse("2026-12-02T00:00:00Z");
  private static final Duration WINDOW = Duration.ofSeconds(30);

  /** A registry in a map that counts its calls (the storage's own behaviour is the kit's job). */
  private static class CountingRegistry implements BackendRegistry {
    final Map<String, Instant> seen = new ConcurrentHashMap<>();
    final Map<String, Instant> used = new ConcurrentHashMap<>();
    final AtomicInteger seenWrites = new AtomicInteger();
    final AtomicInteger usedWrites = new AtomicInteger();
    final AtomicInteger seenReads = new AtomicInteger();

    @Override
    public void put(BackendRecord record) {}

    @Override
    public Optional<BackendRecord> get(String backendId) {
      return Optional.empty();
    }

    @Override
    public List<BackendRecord> list() {
      return List.of();
    }

    @Override
    public boolean delete(String backendId) {
      return false;
    }

    @Override
    public void agentSeen(String backendId, Instant time) {
      seenWrites.incrementAndGet();
      seen.merge(backendId, time, (a, b) -> a.isAfter(b) ? a : b);
    }

    @Override
    public Optional<Instant> lastSeen(String backendId) {
      seenReads.incrementAndGet();
      return Optional.ofNullable(seen.get(backendId));
    }

    @Override
    public void used(String backendId, Instant time) {
      usedWrites.incrementAndGet();
      used.merge(backendId, time, (a, b) -> a.isAfter(b) ? a : b);
    }
  }

  @Test
  void writesAreCoalescedPerBackendAndSecond() {
    CountingRegistry registry = new CountingRegistry();
    AgentPresence presence = new AgentPresence(registry);
    for (int i = 0; i < 100; i++) {
      presence.seen("b1", T0.plusMillis(i * 5)); // 0 .. 495 ms
      presence.used("b1", T0.plusMillis(i * 5));
    }
    presence.seen("b2", T0);
    assertThat(registry.seenWrites).hasValue(2); // b1 once, b2 once
    assertThat(registry.usedWrites).hasValue(1);

    presence.seen("b1", T0.plusSeconds(1));
    presence.used("b1", T0.plusMillis(1500));
    assertThat(registry.seen).containsEntry("b1", T0.plusSeconds(1));
    assertThat(registry.used).containsEntry("b1", T0.plusMillis(1500));
  }

  @Test
  void aLiveReadIsReusedForASecondAndAMissingOneNever() {
    CountingRegistry registry = new CountingRegistry();
    AgentPresence presence = new AgentPresence(registry);

    assertThat(presence.lastSeen("b1", T0, WINDOW)).isEmpty();
    assertThat(presence.lastSeen("b1", T0, WINDOW)).isEmpty();
    assertThat(registry.seenReads).hasValue(2); // "not seen" is asked again: an agent may come

    registry.agentSeen("b1", T0); // written by another node
    assertThat(presence.lastSeen("b1", T0.plusMillis(10), WINDOW)).contains(T0);
    for (int i = 0; i < 50; i++) {
      assertThat(presence.lastSeen("b1", T0.plusMillis(20 + i), WINDOW)).contains(T0);
    }
    assertThat(registry.seenReads).hasValue(3);

    assertThat(presence.lastSeen("b1", T0.plusSeconds(2), WINDOW)).contains(T0);
    assertThat(registry.seenReads).hasValue(4); // older than a second: read again
  }

  @Test
  void aReadOutsideTheWindowIsNotReused() {
    CountingRegistry registry = new CountingRegistry();
    AgentPresence presence = new AgentPresence(registry);
    registry.agentSeen("b1", T0);
    Instant late = T0.plus(WINDOW).minusMillis(100);
    assertThat(presence.lastSeen("b1", late, WINDOW)).contains(T0);
    // 200 ms later the agent is past the window: the cached read must not say otherwise (the
    // registry is asked again, and its answer is for the engine to judge)
    assertThat(presence.lastSeen("b1", late.plusMillis(200), WINDOW)).contains(T0);
    assertThat(registry.seenReads).hasValue(2);
  }

  @Test
  void anAgentPollingThisNodeIsSeenWithoutAsking() {
    CountingRegistry registry = new CountingRegistry();
    AgentPresence presence = new AgentPresence(registry);
    presence.seen("b1", T0);
    registry.seen.clear(); // the store lost it (Redis restarted empty)
    assertThat(presence.lastSeen("b1", T0.plusMillis(300), WINDOW)).contains(T0);
    presence.seen("b1", T0.plusMillis(500)); // coalesced: not written, but known here
    assertThat(presence.lastSeen("b1", T0.plusSeconds(20), WINDOW)).contains(T0.plusMillis(500));
    assertThat(registry.seenReads).hasValue(0);
    // Past the window, the registry decides again.
    assertThat(presence.lastSeen("b1", T0.plusSeconds(31), WINDOW)).isEmpty();
  }

  @Test
  void aFailedWriteIsTriedAgainAtTheNextCall() {
    CountingRegistry registry = new CountingRegistry();
    AtomicBoolean down = new AtomicBoolean(true);
    BackendRegistry flaky =
        new CountingRegistry() {
          @Override
          public void agentSeen(String backendId, Instant time) {
            if (down.get()) {
              throw new StorageException("Redis is down");
            }
            registry.agentSeen(backendId, time);
          }
        };
    AgentPresence presence = new AgentPresence(flaky);
    assertThatThrownBy(() -> presence.seen("b1", T0))
        .isInstanceOf(StorageException.class);
    down.set(false);
    presence.seen("b1", T0.plusMillis(100)); // within the second, yet written: the last one failed
    assertThat(registry.seen).containsEntry("b1", T0.plusMillis(100));
  }
}
