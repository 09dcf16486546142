package dev.invertingproxy.storage.redis;

import dev.invertingproxy.StorageException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One node's long polls for one backend's IDs (pending requests, or cancel notices). A poll
 * first drains the shared queue in Redis; if nothing is there it waits until a signal says the
 * queue changed, then drains again. Drains of one queue run one at a time on a node; a signal
 * that arrives meanwhile makes the running drain go round once more. IDs a drain took but no
 * poll could accept (all left meanwhile) are given back.
 *
 * <p>This class is thread-safe.
 */
final class WaitQueue {
  /** The queue in Redis. */
  interface Source {
    /** Takes what is available now; {@code retryAfterMillis} ≥ 0 if more becomes available later. */
    Drained drain();

    /** Puts back IDs that no poll accepted. */
    void giveBack(List<String> ids);
  }

  record Drained(List<String> ids, long retryAfterMillis) {}

  private final Source source;
  private final ScheduledExecutorService timer;
  private final Executor events;
  private final ArrayDeque<CompletableFuture<List<String>>> waiters = new ArrayDeque<>();
  private boolean draining; // guarded by this
  private boolean dirty; // guarded by this
  private ScheduledFuture<?> retry; // guarded by this

  WaitQueue(Source source, ScheduledExecutorService timer, Executor events) {
    this.source = source;
    this.timer = timer;
    this.events = events;
  }

  CompletableFuture<List<String>> await(Duration maxWait) {
    CompletableFuture<List<String>> waiter = new CompletableFuture<>();
    synchronized (this) {
      waiters.addLast(waiter);
    }
    ScheduledFuture<?> timeout =
        timer.schedule(
            () -> waiter.complete(List.of()), Math.max(0, maxWait.toNanos()), TimeUnit.NANOSECONDS);
    waiter.whenComplete(
        (ids, failure) -> {
          timeout.cancel(false);
          synchronized (this) {
            waiters.remove(waiter);
          }
        });
    signal(); // look now, on the caller's thread
    return waiter;
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
      synchronized (this) {
        dirty = false;
        if (waiters.isEmpty()) {
          draining = false;
          return;
        }
      }
      Drained drained;
      try {
        drained = source.drain();
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
    for (CompletableFuture<List<String>> waiter : snapshot()) {
      waiter.complete(List.of());
    }
  }

  void failAll(StorageException failure) {
    for (CompletableFuture<List<String>> waiter : snapshot()) {
      waiter.completeExceptionally(failure);
    }
  }

  private synchronized List<CompletableFuture<List<String>>> snapshot() {
    return List.copyOf(waiters);
  }

  private void hand(List<String> ids) {
    while (true) {
      CompletableFuture<List<String>> waiter;
      synchronized (this) {
        waiter = waiters.pollFirst();
      }
      if (waiter == null) {
        source.giveBack(ids);
        return;
      }
      if (waiter.complete(ids)) {
        return;
      } // that poll ended meanwhile: the next one
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
