package dev.invertingproxy.storage.redis;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import io.lettuce.core.ScriptOutputType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The registry in three Redis hashes: records by ID ({@code P:backends}), agents' last polls
 * ({@code P:seen}) and last answers ({@code P:used}), times in epoch milliseconds. A time only
 * moves forward (a script keeps the later one), so nodes with slightly different clocks agree.
 */
final class RedisRegistry implements BackendRegistry {
  private final Redis redis;

  RedisRegistry(Redis redis) {
    this.redis = redis;
  }

  @Override
  public void put(BackendRecord record) {
    Objects.requireNonNull(record, "record");
    redis.call(() -> redis.commands().hset(redis.backends(), record.id(), Encoding.record(record)));
    if (record.lastUsed() != null) {
      used(record.id(), record.lastUsed());
    }
  }

  @Override
  public Optional<BackendRecord> get(String backendId) {
    Objects.requireNonNull(backendId, "backendId");
    byte[] stored = redis.call(() -> redis.commands().hget(redis.backends(), backendId));
    if (stored == null) {
      return Optional.empty();
    }
    byte[] used = redis.call(() -> redis.commands().hget(redis.used(), backendId));
    return Optional.of(Encoding.record(stored, instant(used)));
  }

  @Override
  public List<BackendRecord> list() {
    Map<String, byte[]> stored = redis.call(() -> redis.commands().hgetall(redis.backends()));
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
    return redis.call(() -> redis.commands().hdel(redis.backends(), backendId)) > 0;
  }

  @Override
  public void agentSeen(String backendId, Instant time) {
    keepLatest(redis.seen(), backendId, time);
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
