package dev.invertingproxy.storage.redis;

import dev.invertingproxy.StorageException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One node's long polls for one backend's IDs (pending requests, or cancel notices). A poll
 * first drains the shared queue in Redis; if nothing is there it waits until a signal says the
 * queue changed, then drains again. Drains of one queue run one at a time on a node; a signal
 * that arrives meanwhile makes the running drain go round once more. A poll may bound how many
 * IDs it takes; a drain takes no more than the waiting polls together want and shares them out in
 * arrival order. IDs a drain took but no poll could accept (all left meanwhile) are given back.
 * Polls are completed on the {@code handoff} executor (what a completion runs, such as the
 * engine's claim, a Redis round trip, must not hold up the next drain or each other); when it is
 * saturated, on the draining thread.
 *
 * <p>This class is thread-safe.
 */
final class WaitQueue {
  private static final Logger LOGGER = System.getLogger(WaitQueue.class.getName());

  /** The queue in Redis. */
  interface Source {
    /**
     * Takes at most {@code max} of what is available now; {@code retryAfterMillis} ≥ 0 if more
     * becomes available later.
     */
    Drained drain(int max);

    /** Puts back IDs that no poll accepted. */
    void giveBack(List<String> ids);
  }

  record Drained(List<String> ids, long retryAfterMillis) {}

  /** A waiting poll and the most IDs it takes. */
  private record Waiter(CompletableFuture<List<String>> future, int maxIds) {}

  private final Source source;
  private final ScheduledExecutorService timer;
  private final Executor events;
  private final Executor handoff;
  private final ArrayDeque<Waiter> waiters = new ArrayDeque<>(); // guarded by this
  private boolean draining; // guarded by this
  private boolean dirty; // guarded by this
  private ScheduledFuture<?> retry; // guarded by this

  WaitQueue(Source source, ScheduledExecutorService timer, Executor events, Executor handoff) {
    this.source = source;
    this.timer = timer;
    this.events = events;
    this.handoff = handoff;
  }

  /** Waits for IDs: completes with 1 to {@code maxIds} IDs, or with none after {@code maxWait}. */
  CompletableFuture<List<String>> await(Duration maxWait, int maxIds) {
    if (maxIds < 1) {
      throw new IllegalArgumentException("maxIds must be >= 1, was " + maxIds);
    }
    CompletableFuture<List<String>> future = new CompletableFuture<>();
    Waiter waiter = new Waiter(future, maxIds);
    synchronized (this) {
      waiters.addLast(waiter);
    }
    ScheduledFuture<?> timeout =
        timer.schedule(
            () -> future.complete(List.of()), Math.max(0, maxWait.toNanos()), TimeUnit.NANOSECONDS);
    future.whenComplete(
        (ids, failure) -> {
          timeout.cancel(false);
          synchronized (this) {
            waiters.remove(waiter);
          }
        });
    signal(); // look now, on the caller's thread
    return future;
  }

  /** The queue may have changed: drain it for the waiting polls (on this thread). */
  void signal() {
    synchronized (this) {
      if (draining) {
        dirty = true;
        return;
      }
      if (waiters.isEmpty()) {
        return;
      }
      draining = true;
    }
    while (true) {
      int wanted = 0;
      synchronized (this) {
        dirty = false;
        if (waiters.isEmpty()) {
          draining = false;
          return;
        }
        for (Waiter waiter : waiters) {
          wanted = (int) Math.min(Integer.MAX_VALUE, (long) wanted + waiter.maxIds());
        }
      }
      Drained drained;
      try {
        drained = source.drain(wanted);
      } catch (StorageException e) {
        failAll(e);
        continue;
      } catch (RuntimeException e) {
        failAll(new StorageException("draining the queue failed: " + e, e));
        continue;
      }
      if (!drained.ids().isEmpty()) {
        hand(drained.ids());
      }
      synchronized (this) {
        if (drained.retryAfterMillis() >= 0 && !waiters.isEmpty()) {
          scheduleRetry(drained.retryAfterMillis());
        }
        if (!dirty) {
          draining = false;
          return;
        }
      }
    }
  }

  /** Completes every waiting poll with no IDs (the storage closes). */
  void endAll() {
    for (Waiter waiter : snapshot()) {
      waiter.future().complete(List.of());
    }
  }

  void failAll(StorageException failure) {
    for (Waiter waiter : snapshot()) {
      waiter.future().completeExceptionally(failure);
    }
  }

  private synchronized List<Waiter> snapshot() {
    return List.copyOf(waiters);
  }

  /** Shares {@code ids} out over the waiting polls in order; gives back what none took. */
  private void hand(List<String> ids) {
    int from = 0;
    while (from < ids.size()) {
      Waiter waiter;
      synchronized (this) {
        waiter = waiters.pollFirst();
      }
      if (waiter == null) {
        giveBack(List.copyOf(ids.subList(from, ids.size())));
        return;
      }
      if (waiter.future().isDone()) {
        continue; // that poll ended meanwhile: the next one
      }
      int to = (int) Math.min(ids.size(), (long) from + waiter.maxIds());
      complete(waiter, List.copyOf(ids.subList(from, to)));
      from = to;
    }
  }

  /** Completes a poll with its share, off this thread if possible; gives the share back if it ended. */
  private void complete(Waiter waiter, List<String> share) {
    Runnable task =
        () -> {
          if (!waiter.future().complete(share)) {
            giveBack(share); // it ended just now
          }
        };
    try {
      handoff.execute(task);
    } catch (RejectedExecutionException saturated) {
      task.run();
    }
  }

  /**
   * Puts IDs back; if Redis fails meanwhile they are not lost: pending IDs are offered again after
   * the re-offer delay (cancel notices are, at worst, not delivered: the agent's call then finds
   * the request gone when it answers).
   */
  private void giveBack(List<String> ids) {
    try {
      source.giveBack(ids);
    } catch (RuntimeException e) {
      LOGGER.log(Level.WARNING, () -> "could not give back " + ids.size() + " IDs: " + e.getMessage());
    }
  }

  private void scheduleRetry(long millis) {
    if (retry != null && !retry.isDone() && retry.getDelay(TimeUnit.MILLISECONDS) <= millis) {
      return;
    }
    if (retry != null) {
      retry.cancel(false);
    }
    retry = timer.schedule(() -> events.execute(this::signal), millis + 1, TimeUnit.MILLISECONDS);
  }
}
