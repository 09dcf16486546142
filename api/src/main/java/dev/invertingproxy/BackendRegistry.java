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

  /**
   * Records that the agent {@code agentId} of {@code backendId} polled at {@code time}. Agents
   * that name themselves (this project's agent sends {@code X-Inverting-Proxy-Agent-ID}) can later
   * {@link #agentLeft leave}. The default records the backend's heartbeat alone, as {@link
   * #agentSeen(String, Instant)}.
   */
  default void agentSeen(String backendId, String agentId, Instant time) {
    agentSeen(backendId, time);
  }

  /**
   * The agent {@code agentId} of {@code backendId} said it is going (it stopped cleanly): from now
   * on {@link #lastSeen} counts only the backend's other agents (empty if there are none), and later
   * {@link #agentSeen(String, String, Instant)} calls for that agent are ignored for a minute (a
   * poll's late record must not bring it back). A goodbye of an agent that is not counted (never
   * seen, or gone already) changes nothing and is not announced. The default does nothing: the
   * agent then counts until its last poll ages out of the liveness window, as one that died
   * silently.
   */
  default void agentLeft(String backendId, String agentId, Instant time) {}

  /**
   * Calls {@code listener} with the backend ID and the agent ID for every {@link #agentLeft} this
   * registry records, made on this node or, for a registry several proxy nodes share, on any of
   * them: a node still holding the agent's polls ends them, even before it notices their
   * connections closed. The listener runs on the storage's thread and must be quick. The default
   * calls nothing (a registry without per-agent presence).
   *
   * @return what stops the calls (the engine runs it when it closes)
   */
  default Runnable whenAgentLeaves(java.util.function.BiConsumer<String, String> listener) {
    return () -> {};
  }

  /** Returns when an agent of {@code backendId} last polled (among those that did not leave). */
  Optional<Instant> lastSeen(String backendId);

  /** Records that an agent of {@code backendId} answered a request at {@code time}. */
  void used(String backendId, Instant time);
}
