package dev.invertingproxy.core;

import dev.invertingproxy.BackendRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The engine's bookkeeping of agent presence in the registry, coalesced: an agent's polls and
 * answers are recorded at most once per {@link #RESOLUTION} per backend from this node, and a
 * "recently seen" read is reused for as long. With a shared store (Redis) every record and read is
 * a round trip; per request these were several. Times stay accurate to {@link #RESOLUTION}; the
 * engine adds that much to its liveness window (long poll + grace, 30 s by default) when it checks
 * recorded presence (a poll that starts within a second of the last record is recorded when it
 * ends). A "not seen" read is never
 * reused: an agent that just connected is served at once. An agent polling this node counts as
 * seen here without asking the registry (which may also have lost the record: Redis restarted).
 * A record that could not be written is tried again at the next poll.
 *
 * <p>This class is thread-safe.
 */
final class AgentPresence {
  static final Duration RESOLUTION = Duration.ofSeconds(1);

  private final BackendRegistry registry;
  private final ConcurrentHashMap<String, Instant> seenWritten = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Instant> usedWritten = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Read> seenRead = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Instant> seenHere = new ConcurrentHashMap<>();

  private record Read(Instant at, Instant seen) {}

  AgentPresence(BackendRegistry registry) {
    this.registry = registry;
  }

  /** An agent of {@code backend} polled at {@code now}. */
  void seen(String backend, Instant now) {
    seenHere.merge(backend, now, AgentPresence::later);
    writeIfDue(seenWritten, backend, now, () -> registry.agentSeen(backend, now));
  }

  /** An agent of {@code backend} answered a request at {@code now}. */
  void used(String backend, Instant now) {
    writeIfDue(usedWritten, backend, now, () -> registry.used(backend, now));
  }

  /** Runs {@code write} if none ran for {@code backend} within the last {@link #RESOLUTION}. */
  private static void writeIfDue(
      ConcurrentHashMap<String, Instant> written, String backend, Instant now, Runnable write) {
    if (!due(written, backend, now)) {
      return;
    }
    try {
      write.run();
    } catch (RuntimeException e) {
      written.remove(backend, now); // not recorded: the next call tries again
      throw e;
    }
  }

  /** When an agent of {@code backend} last polled, as of at most {@link #RESOLUTION} ago. */
  Optional<Instant> lastSeen(String backend, Instant now, Duration window) {
    Instant here = seenHere.get(backend);
    if (here != null && !here.isBefore(now.minus(window))) {
      return Optional.of(here); // an agent polls this very node
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

  private static Instant later(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  /** Whether a write is due, claiming it if so (one writer per backend per interval). */
  private static boolean due(ConcurrentHashMap<String, Instant> written, String backend, Instant now) {
    Instant[] claimed = new Instant[1];
    written.compute(
        backend,
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
