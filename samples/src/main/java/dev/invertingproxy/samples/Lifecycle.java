package dev.invertingproxy.samples;

import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CountDownLatch;

/**
 * What a long-running command started, stopped in reverse order on SIGTERM or Ctrl-C (a shutdown
 * hook) or when start-up fails half-way.
 *
 * <p>This class is thread-safe.
 */
final class Lifecycle {
  /** Something to stop. */
  @FunctionalInterface
  interface Stoppable {
    void stop() throws Exception;
  }

  private record Entry(String name, Stoppable stoppable) {}

  private final PrintWriter err;
  private final Deque<Entry> started = new ArrayDeque<>();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final Thread hook = new Thread(this::stopOnSignal, "inverting-proxy-shutdown");
  private boolean done;

  Lifecycle(PrintWriter err) {
    this.err = err;
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Records {@code stoppable}; it is stopped before everything recorded earlier. */
  synchronized void started(String name, Stoppable stoppable) {
    started.push(new Entry(name, stoppable));
  }

  /** Stops everything after a failed start-up and removes the shutdown hook. */
  void abort() {
    stopAll();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or ran; nothing left to do
    }
  }

  /** Blocks until the shutdown hook has stopped everything. */
  void awaitStop() throws InterruptedException {
    stopped.await();
  }

  private void stopOnSignal() {
    err.println("Stopping ...");
    err.flush();
    stopAll();
  }

  private synchronized void stopAll() {
    if (done) {
      return;
    }
    done = true;
    while (!started.isEmpty()) {
      Entry entry = started.pop();
      try {
        entry.stoppable().stop();
      } catch (Exception e) {
        err.println("could not stop the " + entry.name() + ": " + e);
      }
    }
    err.flush();
    stopped.countDown();
  }
}
