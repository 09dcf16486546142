package dev.invertingproxy.core;

import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * The agent's bounded capacity: {@code maxInFlight} permits and as many worker threads (named
 * daemon threads {@code inverting-proxy-agent-N}, idle ones ending after 30 s), and the count of
 * requests in flight, which closing waits on (drain) and the cancel-notice poll runs on.
 *
 * <p>A permit is held by a request from its dispatch to its end, or by a next poller while it
 * lives; the in-flight count covers requests only.
 *
 * <p>This class is thread-safe.
 */
final class AgentWorkers {
  private final Semaphore permits;
  private final ThreadPoolExecutor pool;
  private final AtomicInteger inFlight = new AtomicInteger();
  /** Notified when the in-flight count goes from 0 to 1 and back. */
  private final Object changes = new Object();

  AgentWorkers(int maxInFlight) {
    this.permits = new Semaphore(maxInFlight);
    AtomicInteger workerCount = new AtomicInteger();
    this.pool =
        new ThreadPoolExecutor(
            maxInFlight,
            maxInFlight,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            runnable -> {
              Thread thread =
                  new Thread(runnable, "inverting-proxy-agent-" + workerCount.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    pool.allowCoreThreadTimeOut(true);
  }

  /** Waits for a free permit. */
  void acquire() throws InterruptedException {
    permits.acquire();
  }

  /** Takes a free permit if there is one. */
  boolean tryAcquire() {
    return permits.tryAcquire();
  }

  /** Hands a permit back. */
  void release() {
    permits.release();
  }

  /**
   * Runs {@code task} on a worker, holding a permit the caller acquired.
   *
   * @throws RejectedExecutionException if the workers were shut down (the permit is the caller's)
   */
  void execute(Runnable task) {
    pool.execute(task);
  }

  /** Returns the number of requests in flight. */
  int inFlight() {
    return inFlight.get();
  }

  /** A request starts. */
  void countUp() {
    if (inFlight.incrementAndGet() == 1) {
      synchronized (changes) {
        changes.notifyAll(); // the cancel-notice poll runs while requests are in flight
      }
    }
  }

  /** A request ended. */
  void countDown() {
    if (inFlight.decrementAndGet() == 0) {
      synchronized (changes) {
        changes.notifyAll();
      }
    }
  }

  /** A request dispatched with a permit ended: counted down, then its permit handed back. */
  void finished() {
    // Count down before handing the permit back, so inFlight never exceeds maxInFlight.
    countDown();
    permits.release();
  }

  /** Waits while {@code running} and no request is in flight; false if interrupted. */
  boolean awaitBusy(BooleanSupplier running) {
    synchronized (changes) {
      while (running.getAsBoolean() && inFlight.get() == 0) {
        try {
          changes.wait();
        } catch (InterruptedException interrupted) {
          return false;
        }
      }
    }
    return true;
  }

  /** Waits up to {@code timeout} for no request in flight; true if none is left. */
  boolean awaitDrained(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (changes) {
      while (inFlight.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(changes, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return true;
  }

  /** Wakes whoever waits in {@link #awaitBusy} (the agent stops). */
  void wake() {
    synchronized (changes) {
      changes.notifyAll();
    }
  }

  /** Interrupts the workers and accepts no more tasks. */
  void shutdownNow() {
    pool.shutdownNow();
  }
}
