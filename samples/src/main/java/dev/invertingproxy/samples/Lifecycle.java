package dev.invertingproxy.samples;

import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * What a long-running command started, stopped in reverse order on SIGTERM or Ctrl-C, or when
 * start-up fails half-way.
 *
 * <p>SIGTERM and SIGINT are caught (through {@code sun.misc.Signal}, module {@code
 * jdk.unsupported}) rather than left to the JVM: the command's own thread then stops everything
 * and returns, so a clean stop exits with 0, as service managers such as systemd expect (the JVM
 * exits with 143 or 130 when such a signal runs its shutdown hooks). A shutdown hook remains for
 * every other way the JVM may end (SIGHUP, {@code -Xrs}, a runtime without {@code
 * jdk.unsupported}): it stops everything too, and the JVM's own exit code stands.
 *
 * <p>A second SIGTERM or SIGINT while the stop is under way (an agent waiting for its requests, say)
 * ends the JVM at once with exit code 1 and an {@code error:} line: whoever sends it wants the
 * process gone now, and what was still being stopped is cut off.
 *
 * <p>This class is thread-safe.
 */
final class Lifecycle {
  /** Something to stop. */
  @FunctionalInterface
  interface Stoppable {
    /**
     * Stops it.
     *
     * @throws IncompleteStop if it stopped but lost something (requests cut): one {@code error:}
     *     line with the message, and the stop is not clean
     * @throws Exception if it could not be stopped
     */
    void stop() throws Exception;
  }

  /** Something stopped, but not cleanly; the message says what was lost. */
  static final class IncompleteStop extends Exception {
    private static final long serialVersionUID = 1L;

    IncompleteStop(String message) {
      super(message, null, false, false);
    }
  }

  /** Said on stderr when a second signal ends the JVM during a stop. */
  static final String SECOND_SIGNAL =
      "error: stopped at once by a second signal; requests still in flight were cut";

  private record Entry(String name, Stoppable stoppable) {}

  private final PrintWriter err;
  private final Deque<Entry> started = new ArrayDeque<>();
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final Thread hook = new Thread(this::stopOnShutdown, "inverting-proxy-shutdown");
  private final List<StopSignal> signals = new ArrayList<>();
  private boolean done;
  private boolean clean = true;
  /** Set once everything is stopped: a signal then is no reason to halt. */
  private volatile boolean finished;

  private Lifecycle(PrintWriter err) {
    this.err = err;
  }

  /**
   * A lifecycle that stops on SIGTERM or SIGINT (Ctrl-C) and, failing those, in a shutdown hook;
   * messages go to {@code err}.
   */
  static Lifecycle onSignals(PrintWriter err) {
    Lifecycle lifecycle = new Lifecycle(err);
    Runtime.getRuntime().addShutdownHook(lifecycle.hook);
    for (String name : new String[] {"TERM", "INT"}) {
      StopSignal.install(name, lifecycle::onSignal).ifPresent(lifecycle.signals::add);
    }
    return lifecycle;
  }

  /** A lifecycle that stops only on {@link #requestStop()}: no signal handler, no hook (tests). */
  static Lifecycle manual(PrintWriter err) {
    return new Lifecycle(err);
  }

  /** Records {@code stoppable}; it is stopped before everything recorded earlier. */
  synchronized void started(String name, Stoppable stoppable) {
    started.push(new Entry(name, stoppable));
  }

  /** Asks {@link #awaitStop()} to return (what SIGTERM and SIGINT do); returns at once. */
  void requestStop() {
    stopRequested.countDown();
  }

  /**
   * SIGTERM or SIGINT: the first asks for a stop; one during the stop ends the JVM at once
   * ({@link Runtime#halt}: no shutdown hooks, nothing more is waited for) with exit code 1.
   */
  private void onSignal() {
    if (stopRequested.getCount() == 0 && !finished) {
      err.println(SECOND_SIGNAL);
      err.flush();
      Runtime.getRuntime().halt(1);
    }
    requestStop();
  }

  /** Stops everything after a failed start-up; removes the signal handlers and the hook. */
  void abort() {
    stopAll(false);
    finished = true;
    release();
  }

  /**
   * Blocks until a stop is requested (SIGTERM, SIGINT, {@link #requestStop()}), then stops
   * everything in reverse order, reporting each failure on stderr.
   *
   * @return true if everything stopped without an error
   */
  boolean awaitStop() throws InterruptedException {
    stopRequested.await();
    stopAll(true);
    finished = true;
    release();
    synchronized (this) {
      return clean;
    }
  }

  /** Restores the signal handlers and removes the shutdown hook: nothing is left to stop. */
  private void release() {
    for (StopSignal signal : signals) {
      signal.restore();
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running or ran: nothing left to do
    }
  }

  private void stopOnShutdown() {
    stopAll(true);
    stopRequested.countDown();
  }

  /** Stops what is left (once), saying so on stderr if {@code announce}. */
  private synchronized void stopAll(boolean announce) {
    if (done) {
      return;
    }
    done = true;
    if (announce && !started.isEmpty()) {
      err.println("Stopping ...");
      err.flush();
    }
    while (!started.isEmpty()) {
      Entry entry = started.pop();
      try {
        entry.stoppable().stop();
      } catch (IncompleteStop e) {
        clean = false;
        err.println("error: " + e.getMessage());
      } catch (Exception e) {
        clean = false;
        err.println("error: could not stop the " + entry.name() + ": " + e);
      }
    }
    err.flush();
  }

  /** One signal handled through {@code sun.misc.Signal}, until {@link #restore()}. */
  private static final class StopSignal {
    private final sun.misc.Signal signal;
    private final sun.misc.SignalHandler previous;

    private StopSignal(sun.misc.Signal signal, sun.misc.SignalHandler previous) {
      this.signal = signal;
      this.previous = previous;
    }

    /**
     * Runs {@code onSignal} on the signal {@code name} instead of the JVM's shutdown; empty if
     * this JVM cannot (no {@code jdk.unsupported}, or {@code -Xrs}): the shutdown hook stops
     * everything then.
     */
    static Optional<StopSignal> install(String name, Runnable onSignal) {
      try {
        sun.misc.Signal signal = new sun.misc.Signal(name);
        sun.misc.SignalHandler previous = sun.misc.Signal.handle(signal, s -> onSignal.run());
        return Optional.of(new StopSignal(signal, previous));
      } catch (LinkageError | IllegalArgumentException | UnsupportedOperationException e) {
        return Optional.empty();
      }
    }

    void restore() {
      try {
        sun.misc.Signal.handle(signal, previous);
      } catch (IllegalArgumentException e) {
        // cannot happen for a signal this class installed; the JVM is about to exit anyway
      }
    }
  }
}
