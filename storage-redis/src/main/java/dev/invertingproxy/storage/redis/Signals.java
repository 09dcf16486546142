package dev.invertingproxy.storage.redis;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A node's table of who waits for which Redis key. Scripts publish the name of a key they changed
 * (a list got a chunk or room, a request changed state) on the channel of the node that waits for
 * it, or on a broadcast channel for a backend's queue; the pub/sub listener calls {@link #fire}.
 * After the subscription reconnects, {@link #fireAll} makes every waiter look again (a message
 * may have been missed while it was down).
 *
 * <p>This class is thread-safe. Listeners run on the caller's thread and must not block long.
 */
final class Signals {
  private final ConcurrentHashMap<String, Set<Runnable>> byKey = new ConcurrentHashMap<>();

  /** Calls {@code listener} whenever {@code key} is signalled, until the returned handle is closed. */
  Registration watch(String key, Runnable listener) {
    byKey.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(listener);
    return () ->
        byKey.computeIfPresent(
            key,
            (k, listeners) -> {
              listeners.remove(listener);
              return listeners.isEmpty() ? null : listeners;
            });
  }

  void fire(String key) {
    Set<Runnable> listeners = byKey.get(key);
    if (listeners != null) {
      listeners.forEach(Runnable::run);
    }
  }

  void fireAll() {
    byKey.values().forEach(listeners -> listeners.forEach(Runnable::run));
  }

  /** How many keys are watched (for tests: nothing may stay watched after an exchange ended). */
  int watchedKeys() {
    return byKey.size();
  }

  /** Stops watching. Idempotent. */
  @FunctionalInterface
  interface Registration extends AutoCloseable {
    @Override
    void close();
  }

  /** A thread's wait for a signal; a signal that came before the wait is not lost. */
  static final class Wakeup implements Runnable {
    private boolean signalled;

    @Override
    public synchronized void run() {
      signalled = true;
      notifyAll();
    }

    /** Waits up to {@code millis} for a signal; returns true if one came (and consumes it). */
    synchronized boolean await(long millis) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      while (!signalled) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          return false;
        }
        wait(left);
      }
      signalled = false;
      return true;
    }
  }
}
