package dev.invertingproxy.storage.inmemory;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Backend records and agent liveness in maps. Thread-safe. */
final class InMemoryRegistry implements BackendRegistry {
  private final ConcurrentHashMap<String, BackendRecord> records = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Instant> seen = new ConcurrentHashMap<>();
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
    seen.merge(backendId, time, InMemoryRegistry::later);
  }

  @Override
  public Optional<Instant> lastSeen(String backendId) {
    return Optional.ofNullable(seen.get(backendId));
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
