package dev.invertingproxy;

/**
 * The proxy's handle on a request it parked with {@link RequestBroker#submit}.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public interface PendingExchange {

  /** Returns the request ID. */
  String id();

  /**
   * Withdraws the request if no response has started to arrive: afterwards no agent can claim or
   * answer it. Idempotent.
   *
   * @return true if the request is withdrawn (now or before), false if a response already started
   */
  boolean cancel();
}
