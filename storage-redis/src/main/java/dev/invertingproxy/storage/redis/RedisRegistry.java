package dev.invertingproxy.storage.redis;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.StorageException;
import io.lettuce.core.ScriptOutputType;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * The registry in three Redis hashes: records by ID ({@code P:backends}), agents' last polls
 * ({@code P:seen}) and last answers ({@code P:used}), times in epoch milliseconds. A time only
 * moves forward (a script keeps the later one), so nodes with slightly different clocks agree.
 *
 * <p>The proxy reads the records on every request and agent call; each node keeps them for up to
 * {@code cacheTtl}. A put or delete on any node publishes on {@code P:registry}, and every node
 * drops its copy when it hears it (and after a reconnect), so a change is seen at once where the
 * message arrives and within {@code cacheTtl} in any case. Agents' times are never cached.
 */
final class RedisRegistry implements BackendRegistry {
  private static final Logger LOGGER = System.getLogger(RedisRegistry.class.getName());

  /** How long a backend's per-agent entries are kept without news (the backend's latest stays). */
  private static final Duration FORGET_AGENTS = Duration.ofMinutes(10);

  /** How long a goodbye makes later records of that agent ignored (its polls' late records). */
  private static final Duration TOMBSTONE = Duration.ofMinutes(1);

  private final List<BiConsumer<String, String>> leaving = new CopyOnWriteArrayList<>();

  private final Redis redis;
  private final long cacheTtlNanos;
  private final AtomicLong generation = new AtomicLong();
  private volatile @Nullable Snapshot snapshot;

  /** The records hash as read at {@code readAt}, valid for {@code generation}. */
  private record Snapshot(long readAt, long generation, Map<String, byte[]> records) {}

  RedisRegistry(Redis redis, Signals signals, Duration cacheTtl) {
    this.redis = redis;
    this.cacheTtlNanos = cacheTtl.toNanos();
    signals.watch(redis.backends(), this::invalidate);
  }

  /** Drops this node's copy of the records (a change was announced, or messages may be lost). */
  void invalidate() {
    generation.incrementAndGet();
    snapshot = null;
  }

  private Map<String, byte[]> records() {
    Snapshot current = snapshot;
    long now = System.nanoTime();
    long gen = generation.get();
    if (current != null && current.generation() == gen && now - current.readAt() < cacheTtlNanos) {
      return current.records();
    }
    Map<String, byte[]> stored = Map.copyOf(redis.call(() -> redis.commands().hgetall(redis.backends())));
    if (cacheTtlNanos > 0 && generation.get() == gen) {
      snapshot = new Snapshot(now, gen, stored); // unless a change was announced meanwhile
    }
    return stored;
  }

  private void changed(String backendId) {
    invalidate();
    try {
      redis.call(() -> redis.commands().publish(redis.registryChannel(), Redis.bytes(backendId)));
    } catch (StorageException e) {
      // written, not announced: other nodes see it when their copies expire (cacheTtl)
      LOGGER.log(Level.WARNING, () -> "backend " + backendId + " changed, not announced: " + e.getMessage());
    }
  }

  @Override
  public void put(BackendRecord record) {
    Objects.requireNonNull(record, "record");
    redis.call(() -> redis.commands().hset(redis.backends(), record.id(), Encoding.record(record)));
    changed(record.id());
    if (record.lastUsed() != null) {
      used(record.id(), record.lastUsed());
    }
  }

  @Override
  public Optional<BackendRecord> get(String backendId) {
    Objects.requireNonNull(backendId, "backendId");
    byte[] stored =
        cacheTtlNanos > 0
            ? records().get(backendId)
            : redis.call(() -> redis.commands().hget(redis.backends(), backendId));
    if (stored == null) {
      return Optional.empty();
    }
    byte[] used = redis.call(() -> redis.commands().hget(redis.used(), backendId));
    return Optional.of(Encoding.record(stored, instant(used)));
  }

  @Override
  public List<BackendRecord> list() {
    Map<String, byte[]> stored = records();
    if (stored.isEmpty()) {
      return List.of();
    }
    Map<String, byte[]> used = redis.call(() -> redis.commands().hgetall(redis.used()));
    List<BackendRecord> records = new ArrayList<>(stored.size());
    stored.forEach((id, value) -> records.add(Encoding.record(value, instant(used.get(id)))));
    records.sort(Comparator.comparing(BackendRecord::id));
    return List.copyOf(records);
  }

  @Override
  public boolean delete(String backendId) {
    Objects.requireNonNull(backendId, "backendId");
    boolean deleted = redis.call(() -> redis.commands().hdel(redis.backends(), backendId)) > 0;
    changed(backendId);
    return deleted;
  }

  @Override
  public void agentSeen(String backendId, Instant time) {
    agentSeen(backendId, "", time);
  }

  @Override
  public void agentSeen(String backendId, String agentId, Instant time) {
    agentScript(Scripts.AGENT_SEEN, backendId, agentId, time);
  }

  @Override
  public void agentLeft(String backendId, String agentId, Instant time) {
    agentScript(Scripts.AGENT_LEFT, backendId, agentId, time);
  }

  private void agentScript(Script script, String backendId, String agentId, Instant time) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(agentId, "agentId");
    Objects.requireNonNull(time, "time");
    redis.eval(
        script,
        ScriptOutputType.INTEGER,
        new String[] {redis.agents(backendId), redis.seen()},
        Redis.bytes(agentId),
        Redis.bytes(time.toEpochMilli()),
        Redis.bytes(backendId),
        Redis.bytes(FORGET_AGENTS.toMillis()),
        Redis.bytes(TOMBSTONE.toMillis()));
  }

  @Override
  public Runnable whenAgentLeaves(BiConsumer<String, String> listener) {
    leaving.add(Objects.requireNonNull(listener, "listener"));
    return () -> leaving.remove(listener);
  }

  /** A goodbye announced on {@code P:left} (by any node, this one included). */
  void announcedLeave(String message) {
    int newline = message.indexOf('\n');
    if (newline < 0) {
      return;
    }
    String backendId = message.substring(0, newline);
    String agentId = message.substring(newline + 1);
    for (BiConsumer<String, String> listener : leaving) {
      try {
        listener.accept(backendId, agentId);
      } catch (RuntimeException e) {
        LOGGER.log(Level.WARNING, "a listener of agents leaving failed", e);
      }
    }
  }

  @Override
  public Optional<Instant> lastSeen(String backendId) {
    Objects.requireNonNull(backendId, "backendId");
    return Optional.ofNullable(instant(redis.call(() -> redis.commands().hget(redis.seen(), backendId))));
  }

  @Override
  public void used(String backendId, Instant time) {
    keepLatest(redis.used(), backendId, time);
  }

  private void keepLatest(String hash, String backendId, Instant time) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(time, "time");
    redis.eval(
        Scripts.KEEP_LATEST,
        ScriptOutputType.INTEGER,
        new String[] {hash},
        Redis.bytes(backendId),
        Redis.bytes(time.toEpochMilli()));
  }

  private static Instant instant(byte[] millis) {
    return millis == null ? null : Instant.ofEpochMilli(Long.parseLong(Encoding.string(millis)));
  }
}
