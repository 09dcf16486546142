package dev.invertingproxy.core;

import dev.invertingproxy.spi.CancelSignal;
import java.lang.System.Logger.Level;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The one owner of the agent's poll mode, and of its open polls (which stopping cancels). Two
 * modes, explicit:
 *
 * <ul>
 *   <li>{@link Mode#LISTING}: the v1 protocol, every proxy serves it ({@link ListPolling}, one
 *       lister thread). The agent starts here.
 *   <li>{@link Mode#NEXT_REQUESTS}: a list answer announced {@code next-request}; workers poll
 *       {@code agent/next} ({@link NextPolling}). When a proxy (a node behind the same address,
 *       after a rollback or during a mixed deploy) no longer serves it, back to listing, until a
 *       list answer announces it again. At most one thread lists.
 * </ul>
 *
 * <p>This class is thread-safe.
 */
final class PollModes {
  private static final System.Logger LOGGER = System.getLogger(DefaultAgentLoop.class.getName());

  /** The agent's poll modes. */
  enum Mode {
    LISTING,
    NEXT_REQUESTS
  }

  private final ListPolling listing;
  private final NextPolling next;
  private final AgentWorkers workers;
  private final BooleanSupplier running;
  private final AtomicReference<Mode> mode = new AtomicReference<>(Mode.LISTING);
  private final AtomicBoolean fellBack = new AtomicBoolean();
  private final Set<CancelSignal> openPolls = ConcurrentHashMap.newKeySet();
  private volatile @Nullable Thread lister;

  PollModes(ListPolling listing, NextPolling next, AgentWorkers workers, BooleanSupplier running) {
    this.listing = listing;
    this.next = next;
    this.workers = workers;
    this.running = running;
  }

  /** Returns the current mode. */
  Mode mode() {
    return mode.get();
  }

  /** Starts listing (the agent starts). */
  void start() {
    startLister();
  }

  /**
   * A poll opens: registered so that {@link #stop} cancels it; false if the agent stops already
   * (then the poll must not be sent).
   */
  boolean opened(CancelSignal poll) {
    openPolls.add(poll);
    return running.getAsBoolean();
  }

  /** The poll ended. */
  void closed(CancelSignal poll) {
    openPolls.remove(poll);
  }

  /** The agent stops: ends the lister and every open poll. */
  void stop() {
    Thread thread = lister;
    if (thread != null) {
      thread.interrupt();
    }
    openPolls.forEach(CancelSignal::cancel);
  }

  /**
   * The proxy no longer serves {@code agent/next} (it answered {@code status}): list requests
   * again, as in v1, until a list answer announces the extension again.
   */
  void backToListing(int status) {
    if (!running.getAsBoolean() || !mode.compareAndSet(Mode.NEXT_REQUESTS, Mode.LISTING)) {
      return;
    }
    // Once at INFO; a load balancer alternating old and new nodes would repeat it.
    Level level = fellBack.getAndSet(true) ? Level.DEBUG : Level.INFO;
    LOGGER.log(
        level,
        () -> "the proxy answered agent/next with " + status + ": listing requests again (v1)");
    try {
      startLister();
    } catch (RuntimeException | Error e) {
      mode.set(Mode.NEXT_REQUESTS); // no lister: the next refused poll tries again
      throw e;
    }
  }

  private void startLister() {
    Thread thread = new Thread(this::listThenSwitch, "inverting-proxy-agent-poll");
    thread.setDaemon(true);
    lister = thread;
    thread.start();
    if (!running.getAsBoolean()) {
      thread.interrupt(); // stop() may have interrupted the previous lister just now
    }
  }

  /** The lister's thread: lists until the proxy hands requests out in polls, then switches. */
  private void listThenSwitch() {
    if (!listing.run(this) || !running.getAsBoolean()) {
      return;
    }
    try {
      workers.acquire(); // the first next poller's permit
    } catch (InterruptedException interrupted) {
      return;
    }
    mode.set(Mode.NEXT_REQUESTS); // before the poller starts: it may need to fall back at once
    next.startPoller(this);
  }
}
