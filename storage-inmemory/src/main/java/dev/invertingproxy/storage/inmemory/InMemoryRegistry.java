package dev.invertingproxy.storage.inmemory;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;

/** Backend records and agent liveness (per agent, see {@link BackendRegistry#agentLeft}) in maps. Thread-safe. */
final class InMemoryRegistry implements BackendRegistry {
  private final ConcurrentHashMap<String, BackendRecord> records = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Agents> seen = new ConcurrentHashMap<>();
  private final List<BiConsumer<String, String>> leaving = new CopyOnWriteArrayList<>();
  private final ConcurrentHashMap<String, Instant> used = new ConcurrentHashMap<>();

  @Override
  public void put(BackendRecord record) {
    Objects.requireNonNull(record, "record");
    records.put(record.id(), withLastUsed(record));
  }

  @Override
  public Optional<BackendRecord> get(String backendId) {
    return Optional.ofNullable(records.get(backendId)).map(this::withLastUsed);
  }

  @Override
  public List<BackendRecord> list() {
    return records.values().stream()
        .map(this::withLastUsed)
        .sorted(Comparator.comparing(BackendRecord::id))
        .toList();
  }

  @Override
  public boolean delete(String backendId) {
    return records.remove(backendId) != null;
  }

  @Override
  public void agentSeen(String backendId, Instant time) {
    agentSeen(backendId, "", time);
  }

  @Override
  public void agentSeen(String backendId, String agentId, Instant time) {
    Objects.requireNonNull(agentId, "agentId");
    Objects.requireNonNull(time, "time");
    seen.computeIfAbsent(backendId, id -> new Agents()).seen(agentId, time);
  }

  @Override
  public void agentLeft(String backendId, String agentId, Instant time) {
    Objects.requireNonNull(agentId, "agentId");
    Agents agents = seen.get(backendId);
    if (agents == null || !agents.left(agentId, time)) {
      return; // never seen, or gone already: nothing to take back, nobody to tell
    }
    for (BiConsumer<String, String> listener : leaving) {
      try {
        listener.accept(backendId, agentId); // every engine on this storage hears it
      } catch (RuntimeException e) {
        LOGGER.log(System.Logger.Level.WARNING, "a listener of agents leaving failed", e);
      }
    }
  }

  @Override
  public Runnable whenAgentLeaves(BiConsumer<String, String> listener) {
    leaving.add(Objects.requireNonNull(listener, "listener"));
    return () -> leaving.remove(listener);
  }

  private static final System.Logger LOGGER = System.getLogger(InMemoryRegistry.class.getName());

  @Override
  public Optional<Instant> lastSeen(String backendId) {
    Agents agents = seen.get(backendId);
    return agents == null ? Optional.empty() : agents.lastSeen();
  }

  /**
   * One backend's agents: when each last polled, or when it left (a tombstone, so that a late
   * record does not bring it back). Entries older than {@link #FORGET} are dropped when another is
   * written, except the newest, so the map stays small whatever the agents' restarts.
   */
  private static final class Agents {
    private static final Duration FORGET = Duration.ofMinutes(10);
    /** How long a goodbye makes later records of that agent ignored (its polls' late records). */
    private static final Duration TOMBSTONE = Duration.ofMinutes(1);
    // guarded by this
    private final Map<String, Instant> polled = new HashMap<>();
    private final Map<String, Instant> leftAt = new HashMap<>();

    synchronized void seen(String agentId, Instant time) {
      Instant left = leftAt.get(agentId);
      if (left != null) {
        if (time.isBefore(left.plus(TOMBSTONE))) {
          return; // a late record of a poll from before the goodbye
        }
        leftAt.remove(agentId); // the same ID back much later: counts again
      }
      polled.merge(agentId, time, InMemoryRegistry::later);
      prune(time);
    }

    /** Marks the agent gone; false if it was not polling (never seen, or gone already). */
    synchronized boolean left(String agentId, Instant time) {
      if (polled.remove(agentId) == null) {
        return false;
      }
      leftAt.put(agentId, time);
      prune(time);
      return true;
    }

    synchronized Optional<Instant> lastSeen() {
      return polled.values().stream().max(Comparator.naturalOrder());
    }

    private void prune(Instant now) {
      Instant oldest = now.minus(FORGET);
      leftAt.values().removeIf(time -> time.isBefore(oldest));
      if (polled.size() > 1) {
        Instant newest = polled.values().stream().max(Comparator.naturalOrder()).orElseThrow();
        polled.values().removeIf(time -> time.isBefore(oldest) && !time.equals(newest));
      }
    }
  }

  @Override
  public void used(String backendId, Instant time) {
    used.merge(backendId, time, InMemoryRegistry::later);
  }

  private BackendRecord withLastUsed(BackendRecord record) {
    Instant lastUsed = used.get(record.id());
    return new BackendRecord(
        record.id(),
        record.agentIdentities(),
        record.endUsers(),
        record.pathPrefixes(),
        lastUsed);
  }

  private static Instant later(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }
}
