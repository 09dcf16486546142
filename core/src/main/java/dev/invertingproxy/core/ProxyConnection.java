package dev.invertingproxy.core;

import dev.invertingproxy.core.protocol.Capabilities;
import dev.invertingproxy.core.protocol.ProxyCallException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The agent's view of its connection to the proxy, shared by every thread that polls: whether it
 * is connected, what the proxy announced, what it logs and how long a poll waits before it tries
 * again.
 *
 * <ul>
 *   <li><b>One line per change of state</b>, never one per attempt: connected (INFO, with how long
 *       the outage lasted), unreachable (WARNING, with the failure; again only when the kind of
 *       failure changes: another status, another exception type), refused (WARNING, with the
 *       proxy's reason). A transient failure within 5 s of another poller's success is no change
 *       of state (one node of several failing, a 429): pollers that disagree do not flap the log.
 *   <li><b>Transient failures</b> (connection refused or reset, time-outs, 5xx, 429) back off
 *       with full jitter up to a short cap (3 s by default), so that the agent is back within
 *       seconds of the proxy or its storage.
 *   <li><b>Refusals</b> (401 and 403) will not fix themselves until someone changes the credential
 *       or the backend record: they back off up to {@link #REFUSED_CAP} (about a minute, never
 *       less than half of it once reached), so a refused agent neither floods its log nor hammers
 *       the proxy, and still recovers by itself (a rewritten token file, a backend registered).
 * </ul>
 *
 * <p>This class is thread-safe.
 */
final class ProxyConnection {
  private static final System.Logger LOGGER = System.getLogger(DefaultAgentLoop.class.getName());

  /** A failure within this long of another poller's success is not a change of state. */
  private static final long STEADY_NANOS = TimeUnit.SECONDS.toNanos(5);

  /** The first wait after a refusal. */
  static final Duration REFUSED_BASE = Duration.ofSeconds(2);

  /** The longest wait between attempts while refused. */
  static final Duration REFUSED_CAP = Duration.ofMinutes(1);

  /** Where the agent stands with the proxy. */
  enum State {
    /** No call answered yet. */
    STARTING,
    /** The last poll was answered. */
    CONNECTED,
    /** The proxy could not be reached, or failed (5xx, 429). */
    UNREACHABLE,
    /** The proxy refused this agent's credential or authority (401, 403). */
    REFUSED
  }

  private final String proxy;
  private final String backendId;
  private final Duration base;
  private final Duration cap;

  // guarded by this
  private State state = State.STARTING;
  private String failureKind = "";
  private long failingSince;
  private int failedAttempts;
  private volatile long lastSuccess;

  /** Fast path of {@link #connected()}: read without the lock. */
  private volatile boolean up;

  /** The last poll was answered (a failed poll clears it). */
  private volatile boolean answered;

  /** System.nanoTime() when the current list poll began; 0 if none. */
  private volatile long pollSince;

  /** Some answer announced leave-notice. */
  private volatile boolean leaveAnnounced;

  /** Some answer did not announce leave-notice (a reference node behind the same address). */
  private volatile boolean leaveUnsafe;

  /** A poll held open this long counts as connected: a proxy that refuses answers at once. */
  private static final long HELD_POLL_NANOS = TimeUnit.SECONDS.toNanos(1);

  ProxyConnection(String proxy, String backendId, Duration base, Duration cap) {
    this.proxy = proxy;
    this.backendId = backendId;
    this.base = base;
    this.cap = cap;
  }

  /**
   * A poll was answered with {@code capabilities}: the agent is connected; and a proxy that did
   * not announce leave-notice is never told goodbye.
   */
  void answered(Capabilities capabilities) {
    answered = true;
    if (capabilities.has(Capabilities.LEAVE_NOTICE)) {
      leaveAnnounced = true;
    } else {
      leaveUnsafe = true;
    }
    connected();
  }

  /**
   * Whether the agent may say goodbye: the proxy announced leave-notice in every answer so far
   * (the reference server takes any call for a list call and could hand the goodbye a request ID,
   * which would be lost; behind one address, a node of each kind may answer).
   */
  boolean mayLeave() {
    return leaveAnnounced && !leaveUnsafe;
  }

  /** A list poll starts (see {@link #isConnected}). */
  void pollStarted() {
    pollSince = Math.max(1, System.nanoTime());
  }

  /** The list poll ended, answered or not. */
  void pollEnded() {
    pollSince = 0;
  }

  /**
   * Returns true if the last poll was answered, or if the current one has been held open by the
   * proxy for a moment (a proxy that refuses a poll answers at once; one that accepts it holds it
   * for its long-poll time-out).
   */
  boolean isConnected(boolean running) {
    long since = pollSince;
    return answered || (running && since != 0 && System.nanoTime() - since > HELD_POLL_NANOS);
  }

  /** The agent stopped: no longer connected. */
  void stopped() {
    answered = false;
  }

  /** A poll was answered: logs the change if the agent was not connected. */
  private void connected() {
    if (up) {
      lastSuccess = System.nanoTime(); // a benign race: only ever moves forward in practice
      return;
    }
    State before;
    int attempts;
    long since;
    synchronized (this) {
      lastSuccess = System.nanoTime();
      if (state == State.CONNECTED) {
        return;
      }
      before = state;
      attempts = failedAttempts;
      since = failingSince;
      state = State.CONNECTED;
      failureKind = "";
      failedAttempts = 0;
      up = true;
    }
    if (before == State.STARTING) {
      LOGGER.log(Level.INFO, () -> "connected to the proxy " + proxy + " for backend " + backendId);
    } else {
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - since);
      LOGGER.log(
          Level.INFO,
          () ->
              "connected to the proxy "
                  + proxy
                  + " again, after "
                  + attempts
                  + (attempts == 1 ? " failed attempt" : " failed attempts")
                  + " in "
                  + seconds
                  + " s");
    }
  }

  /**
   * A poll failed: logs the change of state, if any, and returns how long the poller waits before
   * its next attempt.
   *
   * @param attempt how many polls of this poller failed in a row, this one included (from 1)
   */
  long failed(Exception failure, int attempt) {
    answered = false;
    boolean refused = isRefusal(failure);
    State next = refused ? State.REFUSED : State.UNREACHABLE;
    String kind = kind(failure);
    boolean changed;
    synchronized (this) {
      if (!refused
          && state == State.CONNECTED
          && System.nanoTime() - lastSuccess < STEADY_NANOS) {
        // Another poller succeeded a moment ago (one node of several failing, a 429): not an
        // outage; logging it would make a pair of lines per poll while pollers disagree.
        return transientWait(attempt);
      }
      if (state == State.CONNECTED || state == State.STARTING) {
        // The outage began after the last success (failures within STEADY_NANOS were not told).
        failingSince = state == State.CONNECTED ? lastSuccess : System.nanoTime();
        failedAttempts = 0;
      }
      changed = state != next || !kind.equals(failureKind);
      state = next;
      failureKind = kind;
      failedAttempts++;
      up = false;
    }
    if (changed) {
      if (refused) {
        LOGGER.log(
            Level.WARNING,
            () ->
                "the proxy "
                    + proxy
                    + " refused this agent of backend "
                    + backendId
                    + ": "
                    + failure.getMessage()
                    + ". Retrying about once a minute until the agent's credential or the"
                    + " backend's record is fixed.");
      } else {
        LOGGER.log(
            Level.WARNING,
            () ->
                "cannot reach the proxy "
                    + proxy
                    + ": "
                    + describe(failure)
                    + "; retrying every few seconds (up to "
                    + cap.toMillis()
                    + " ms apart), quietly until the state changes");
      }
    }
    return waitAfter(failure, attempt);
  }

  /** How long a poller waits after its {@code attempt}-th failure in a row (no logging). */
  long waitAfter(Exception failure, int attempt) {
    return isRefusal(failure) ? refusedWait(attempt) : transientWait(attempt);
  }

  /** The state as of the last answer or failure. */
  synchronized State state() {
    return state;
  }

  /** Whether the proxy refused this agent: only a changed credential or record helps. */
  private static boolean isRefusal(Exception failure) {
    return failure instanceof ProxyCallException call
        && (call.status() == 401 || call.status() == 403);
  }

  /** Full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
  long transientWait(int attempt) {
    long ceiling = base.toMillis() << Math.min(attempt, 20);
    ceiling = Math.min(Math.max(ceiling, 1), cap.toMillis());
    return ThreadLocalRandom.current().nextLong(ceiling + 1);
  }

  /** Equal jitter: uniform in [c/2, c] for c = min(REFUSED_CAP, REFUSED_BASE * 2^(attempt-1)). */
  private static long refusedWait(int attempt) {
    long ceiling = REFUSED_BASE.toMillis() << Math.min(Math.max(attempt - 1, 0), 20);
    ceiling = Math.min(ceiling, REFUSED_CAP.toMillis());
    return ceiling / 2 + ThreadLocalRandom.current().nextLong(ceiling / 2 + 1);
  }

  private static String kind(Exception failure) {
    return failure instanceof ProxyCallException call
        ? "status " + call.status()
        : failure.getClass().getName();
  }

  private static String describe(Exception failure) {
    String message = failure.getMessage();
    return failure instanceof ProxyCallException || message == null
        ? String.valueOf(message == null ? failure : message)
        : failure.getClass().getSimpleName() + ": " + message;
  }
}
