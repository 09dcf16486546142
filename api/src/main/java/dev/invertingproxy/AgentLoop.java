package dev.invertingproxy;

import java.time.Duration;

/**
 * The agent beside a private backend: it polls the proxy for parked requests, claims them,
 * forwards them to the backend and streams the responses back, with bounded concurrency.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public interface AgentLoop extends AutoCloseable {

  /** The agent's lifecycle. */
  enum State {
    NEW,
    RUNNING,
    DRAINING,
    CLOSED
  }

  /** Starts polling; returns at once. Calling it again does nothing. */
  void start();

  /** Returns the current state. */
  State state();

  /** Returns true if the proxy accepts this agent's polls (the last one succeeded, or one is held open). */
  boolean isConnected();

  /** Returns the number of requests being forwarded now. */
  int inFlight();

  /**
   * Stops polling and waits up to {@code drainTimeout} for in-flight requests to finish, then
   * aborts what is left. Idempotent.
   *
   * @return true if every in-flight request finished within the bound
   */
  boolean close(Duration drainTimeout);

  /** Closes with the configured drain timeout. Idempotent. */
  @Override
  void close();
}
