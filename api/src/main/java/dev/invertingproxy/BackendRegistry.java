package dev.invertingproxy;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Records of backends and the liveness of their agents. Liveness is kept for any backend ID an
 * agent polls for, registered or not (a proxy may run without registered backends).
 *
 * <p>Implementations are thread-safe; every operation is atomic.
 *
 * @since 0.1
 */
public interface BackendRegistry {

  /** Creates or replaces the record with {@code record.id()}. */
  void put(BackendRecord record);

  /** Returns the record with that ID. */
  Optional<BackendRecord> get(String backendId);

  /** Returns every record, ordered by ID; unmodifiable. */
  List<BackendRecord> list();

  /**
   * Deletes a record.
   *
   * @return true if it existed
   */
  boolean delete(String backendId);

  /** Records that an agent of {@code backendId} polled at {@code time} (heartbeat). */
  void agentSeen(String backendId, Instant time);

  /** Returns when an agent of {@code backendId} last polled. */
  Optional<Instant> lastSeen(String backendId);

  /** Records that an agent of {@code backendId} answered a request at {@code time}. */
  void used(String backendId, Instant time);
}
