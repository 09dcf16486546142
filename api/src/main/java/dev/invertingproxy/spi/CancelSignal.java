package dev.invertingproxy.spi;

import java.util.ArrayList;
import java.util.List;

/**
 * Tells a transport that the work it does for a request is no longer wanted (the client left):
 * actions registered with {@link #onCancel} run once, on the cancelling thread, or at once if
 * the signal was already cancelled.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class CancelSignal {
  private final List<Runnable> actions = new ArrayList<>(2); // guarded by this
  private boolean cancelled; // guarded by this

  /** Registers {@code action}; runs it at once if already cancelled. */
  public void onCancel(Runnable action) {
    synchronized (this) {
      if (!cancelled) {
        actions.add(action);
        return;
      }
    }
    action.run();
  }

  /** Cancels: runs the registered actions once. Idempotent. */
  public void cancel() {
    List<Runnable> toRun;
    synchronized (this) {
      if (cancelled) {
        return;
      }
      cancelled = true;
      toRun = List.copyOf(actions);
      actions.clear();
    }
    toRun.forEach(Runnable::run);
  }

  /** Returns true once cancelled. */
  public synchronized boolean isCancelled() {
    return cancelled;
  }
}
