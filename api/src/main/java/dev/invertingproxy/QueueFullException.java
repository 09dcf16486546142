package dev.invertingproxy;

/**
 * A backend's queue of parked requests is full: no more client requests may wait for its
 * agents (the proxy answers 503 with {@code Retry-After: 1}).
 *
 * @since 0.1
 */
public class QueueFullException extends LimitExceededException {
  private static final long serialVersionUID = 1L;

  public QueueFullException(String message) {
    super(message);
  }

  /**
   * @deprecated use the error mapping, which decides the status; this is what it answers (503).
   */
  @Deprecated(since = "0.1")
  @Override
  public int status() {
    return 503;
  }
}
