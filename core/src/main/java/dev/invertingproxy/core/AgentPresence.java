package dev.invertingproxy.core;

import dev.invertingproxy.BackendRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The engine's bookkeeping of agent presence in the registry, coalesced: an agent's polls and
 * answers are recorded at most once per {@link #RESOLUTION} per agent from this node, and a
 * "recently seen" read is reused for as long. With a shared store (Redis) every record and read is
 * a round trip; per request these were several. Times stay accurate to {@link #RESOLUTION}; the
 * engine adds that much to its liveness window (long poll + grace, 30 s by default) when it checks
 * recorded presence (a poll that starts within a second of the last record is recorded when it
 * ends). A "not seen" read is never reused: an agent that just connected is served at once.
 *
 * <p>A backend with a poll open on this node, or whose agent polled this node within the window,
 * counts as present here without asking the registry (which may also have lost the record: Redis
 * restarted; or not have it yet: writes are coalesced). An agent that says it is going ({@link
 * #left}) is taken out of the registry at once, and this node forgets its cached read; other nodes
 * notice within {@link #RESOLUTION} (their cached reads expire). A record that could not be
 * written is tried again at the next poll.
 *
 * <p>This class is thread-safe.
 */
final class AgentPresence {
  static final Duration RESOLUTION = Duration.ofSeconds(1);

  private final BackendRegistry registry;
  private final ConcurrentHashMap<String, Instant> seenWritten = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Instant> usedWritten = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Read> seenRead = new ConcurrentHashMap<>();
  /** When each agent last polled this node, per backend and agent (the registry may lag). */
  private final ConcurrentHashMap<String, ConcurrentHashMap<String, Instant>> seenHere =
      new ConcurrentHashMap<>();
  /** Agents that left (backend, NUL, agent ID), with when: their late records are ignored here. */
  private final ConcurrentHashMap<String, Instant> leftHere = new ConcurrentHashMap<>();
  /** Polls open on this node, per backend: one token per poll. */
  private final ConcurrentHashMap<String, Set<OpenPoll>> polling = new ConcurrentHashMap<>();

  /** One open poll of an agent (identity matters: two polls of one agent are two tokens). */
  static final class OpenPoll {
    final String agentId;
    /** Ends the poll (answered empty) if its agent says goodbye while this node still holds it. */
    private final Runnable end;

    OpenPoll(String agentId, Runnable end) {
      this.agentId = agentId;
      this.end = end;
    }

    /** Ends the poll: its agent is going. Idempotent (the poll ends once). */
    void end() {
      end.run();
    }
  }

  /** How long the writes' bookkeeping of an agent or backend is kept without news. */
  private static final Duration FORGET = Duration.ofMinutes(1);

  private record Read(Instant at, Instant seen) {}

  AgentPresence(BackendRegistry registry) {
    this.registry = registry;
  }

  /**
   * The agent {@code agentId} of {@code backend} polled at {@code now} (empty ID: an agent that
   * names itself not, such as the reference agent).
   */
  void seen(String backend, String agentId, Instant now) {
    if (!agentId.isEmpty() && leftHere.containsKey(backend + '\u0000' + agentId)) {
      return; // a poll that ended after the goodbye (the registry ignores it too)
    }
    // Under the map's lock for this backend, so that prune() cannot drop the map meanwhile.
    seenHere.compute(
        backend,
        (b, here) -> {
          ConcurrentHashMap<String, Instant> agents = here == null ? new ConcurrentHashMap<>() : here;
          agents.merge(agentId, now, (x, y) -> x.isAfter(y) ? x : y);
          return agents;
        });
    if (!agentId.isEmpty() && leftHere.containsKey(backend + '\u0000' + agentId)) {
      forgetSeen(backend, agentId); // forget() ran between the check above and the merge
      return;
    }
    writeIfDue(
        seenWritten, backend + '\u0000' + agentId, now, () -> registry.agentSeen(backend, agentId, now));
  }

  /** A poll of the agent opens on this node; pass what it returns to {@link #pollEnded}. */
  OpenPoll pollStarted(String backend, String agentId, Runnable end) {
    OpenPoll poll = new OpenPoll(agentId, end);
    polling.compute(
        backend,
        (b, open) -> {
          Set<OpenPoll> polls = open == null ? ConcurrentHashMap.newKeySet() : open;
          polls.add(poll);
          return polls;
        });
    return poll;
  }

  void pollEnded(String backend, OpenPoll poll) {
    Set<OpenPoll> open = polling.get(backend);
    if (open != null) {
      open.remove(poll);
    }
  }

  /**
   * The agent {@code agentId} of {@code backend} said it is going, here: it is taken out of the
   * registry (which tells the other nodes, if it is shared) and forgotten here.
   */
  void left(String backend, String agentId, Instant now) {
    forget(backend, agentId); // at once here, before the storage's round trip
    registry.agentLeft(backend, agentId, now);
  }

  /**
   * The agent {@code agentId} of {@code backend} left (here, or on another node): its polls still
   * open here no longer count and are ended (as if it had disconnected: a request claimed for one
   * is given back), even before this node notices that their connections closed.
   */
  void forget(String backend, String agentId) {
    if (!agentId.isEmpty()) {
      leftHere.put(backend + '\u0000' + agentId, Instant.now());
    }
    forgetSeen(backend, agentId);
    Set<OpenPoll> open = polling.get(backend);
    if (open != null) {
      for (OpenPoll poll : List.copyOf(open)) {
        if (poll.agentId.equals(agentId) && open.remove(poll)) {
          poll.end();
        }
      }
    }
    seenRead.remove(backend);
    seenWritten.remove(backend + '\u0000' + agentId);
  }

  private void forgetSeen(String backend, String agentId) {
    seenHere.computeIfPresent(
        backend,
        (b, here) -> {
          here.remove(agentId);
          return here;
        });
  }

  /**
   * Whether an agent of {@code backend} is known to be connected from what this node has at hand,
   * without asking the registry (for messages, on threads that must not wait for the storage): a
   * poll open here, or a poll within the window in the last read of the registry (a goodbye
   * heard here drops that read).
   */
  boolean knownConnected(String backend, Instant now, Duration window) {
    Set<OpenPoll> open = polling.get(backend);
    if (open != null && !open.isEmpty()) {
      return true;
    }
    if (seenHere(backend, now, window).isPresent()) {
      return true;
    }
    Read read = seenRead.get(backend);
    return read != null && !read.seen().isBefore(now.minus(window));
  }

  /** The latest poll of an agent of {@code backend} on this node within {@code window}. */
  private Optional<Instant> seenHere(String backend, Instant now, Duration window) {
    ConcurrentHashMap<String, Instant> here = seenHere.get(backend);
    if (here == null) {
      return Optional.empty();
    }
    Instant oldest = now.minus(window);
    Instant latest = null;
    for (Instant time : here.values()) {
      if (!time.isBefore(oldest) && (latest == null || time.isAfter(latest))) {
        latest = time;
      }
    }
    return Optional.ofNullable(latest);
  }

  /** Drops write bookkeeping without news for a minute (agents that went away without a goodbye). */
  void prune(Instant now) {
    Instant oldest = now.minus(FORGET);
    for (ConcurrentHashMap<String, Instant> here : seenHere.values()) {
      here.values().removeIf(time -> time.isBefore(oldest));
    }
    for (String backend : List.copyOf(seenHere.keySet())) {
      seenHere.computeIfPresent(backend, (b, here) -> here.isEmpty() ? null : here);
    }
    for (String backend : List.copyOf(polling.keySet())) {
      polling.computeIfPresent(backend, (b, open) -> open.isEmpty() ? null : open);
    }
    leftHere.values().removeIf(time -> time.isBefore(Instant.now().minus(FORGET)));
    seenWritten.values().removeIf(time -> time.isBefore(oldest));
    usedWritten.values().removeIf(time -> time.isBefore(oldest));
    seenRead.values().removeIf(read -> read.at().isBefore(oldest));
  }

  /** An agent of {@code backend} answered a request at {@code now}. */
  void used(String backend, Instant now) {
    writeIfDue(usedWritten, backend, now, () -> registry.used(backend, now));
  }

  /** Runs {@code write} if none ran for {@code key} within the last {@link #RESOLUTION}. */
  private static void writeIfDue(
      ConcurrentHashMap<String, Instant> written, String key, Instant now, Runnable write) {
    if (!due(written, key, now)) {
      return;
    }
    try {
      write.run();
    } catch (RuntimeException e) {
      written.remove(key, now); // not recorded: the next call tries again
      throw e;
    }
  }

  /**
   * When an agent of {@code backend} last polled, as of at most {@link #RESOLUTION} ago; now, if a
   * poll of it is open on this node.
   */
  Optional<Instant> lastSeen(String backend, Instant now, Duration window) {
    Set<OpenPoll> open = polling.get(backend);
    if (open != null && !open.isEmpty()) {
      return Optional.of(now); // an agent polls this very node
    }
    Optional<Instant> here = seenHere(backend, now, window);
    if (here.isPresent()) {
      return here; // an agent polled this node a moment ago (between two of its polls)
    }
    Read read = seenRead.get(backend);
    if (read != null
        && Duration.between(read.at(), now).compareTo(RESOLUTION) < 0
        && !read.seen().isBefore(now.minus(window))) {
      return Optional.of(read.seen());
    }
    Optional<Instant> seen = registry.lastSeen(backend);
    seen.ifPresentOrElse(
        time -> seenRead.put(backend, new Read(now, time)), () -> seenRead.remove(backend));
    return seen;
  }

  /** Whether a write is due, claiming it if so (one writer per key per interval). */
  private static boolean due(ConcurrentHashMap<String, Instant> written, String key, Instant now) {
    Instant[] claimed = new Instant[1];
    written.compute(
        key,
        (id, last) -> {
          if (last == null || !now.isBefore(last.plus(RESOLUTION)) || now.isBefore(last)) {
            claimed[0] = now;
            return now;
          }
          return last;
        });
    return claimed[0] != null;
  }
}
