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
import java.util.concurrent.CompletableFuture;
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
      presence.seen("b1", "a1", T0.plusMillis(i * 5)); // 0 .. 495 ms
      presence.used("b1", T0.plusMillis(i * 5));
    }
    presence.seen("b2", "a1", T0);
    presence.seen("b1", "a2", T0); // another agent of b1: its own record
    assertThat(registry.seenWrites).hasValue(3); // b1's a1 once, b2 once, b1's a2 once
    assertThat(registry.usedWrites).hasValue(1);

    presence.seen("b1", "a1", T0.plusSeconds(1));
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
  void anAgentThatPolledThisNodeAMomentAgoCountsBetweenItsPolls() {
    CountingRegistry registry = new CountingRegistry();
    AgentPresence presence = new AgentPresence(registry);
    presence.seen("b1", "a1", T0);
    presence.seen("b1", "a1", T0.plusMillis(400)); // coalesced: not written to the registry
    registry.seen.clear(); // and the store lost the first one (Redis restarted empty)
    assertThat(presence.lastSeen("b1", T0.plusSeconds(20), WINDOW)).contains(T0.plusMillis(400));
    assertThat(registry.seenReads).hasValue(0);
  }

  @Test
  void aBackendPolledOnThisNodeIsSeenWithoutAsking() {
    CountingRegistry registry = new CountingRegistry();
    AgentPresence presence = new AgentPresence(registry);
    AgentPresence.OpenPoll poll = presence.pollStarted("b1", "a1", () -> {});
    presence.seen("b1", "a1", T0);
    registry.seen.clear(); // the store lost it (Redis restarted empty)
    assertThat(presence.lastSeen("b1", T0.plusSeconds(20), WINDOW)).contains(T0.plusSeconds(20));
    assertThat(presence.lastSeen("b1", T0.plusSeconds(90), WINDOW)).contains(T0.plusSeconds(90));
    assertThat(registry.seenReads).hasValue(0);
    // Once the poll ends, the registry decides again.
    presence.pollEnded("b1", poll);
    assertThat(presence.lastSeen("b1", T0.plusSeconds(91), WINDOW)).isEmpty();
    assertThat(registry.seenReads).hasValue(1);
  }

  @Test
  void anAgentThatLeavesIsForgottenAtOnce() {
    AtomicInteger lefts = new AtomicInteger();
    CountingRegistry registry =
        new CountingRegistry() {
          @Override
          public void agentLeft(String backendId, String agentId, Instant time) {
            lefts.incrementAndGet();
            seen.remove(backendId); // its only agent
          }
        };
    AgentPresence presence = new AgentPresence(registry);
    presence.seen("b1", "a1", T0);
    assertThat(presence.lastSeen("b1", T0.plusMillis(100), WINDOW)).contains(T0); // cached now
    CompletableFuture<Void> open = new CompletableFuture<>(); // its poll, not yet noticed closed
    AgentPresence.OpenPoll poll = presence.pollStarted("b1", "a1", () -> open.complete(null));
    presence.left("b1", "a1", T0.plusMillis(200));
    assertThat(lefts).hasValue(1);
    // Neither its open poll nor the cached read count any more, and the poll is ended.
    assertThat(presence.lastSeen("b1", T0.plusMillis(300), WINDOW)).isEmpty();
    assertThat(open).isDone();
    presence.pollEnded("b1", poll); // noticed later
    presence.seen("b1", "a1", T0.plusMillis(350)); // a late record of its poll: ignored here too
    assertThat(presence.lastSeen("b1", T0.plusMillis(360), WINDOW)).isEmpty();
    presence.pollStarted("b1", "a2", () -> {}); // another agent polls here
    assertThat(presence.lastSeen("b1", T0.plusMillis(400), WINDOW)).contains(T0.plusMillis(400));
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
    assertThatThrownBy(() -> presence.seen("b1", "a1", T0))
        .isInstanceOf(StorageException.class);
    down.set(false);
    presence.seen("b1", "a1", T0.plusMillis(100)); // within the second, yet written: the last one failed
    assertThat(registry.seen).containsEntry("b1", T0.plusMillis(100));
  }
}
