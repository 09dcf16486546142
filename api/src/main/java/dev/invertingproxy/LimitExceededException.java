package dev.invertingproxy;

/**
 * A configured limit was exceeded. The subclasses name the limit ({@link QueueFullException},
 * {@link TooManyPollsException}, {@link BodyTooLargeException}, {@link HeadTooLargeException},
 * {@link BodyStalledException}); the proxy's error mapping ({@code
 * dev.invertingproxy.core.ErrorMapping}) decides the HTTP status and headers that report each.
 *
 * @since 0.1
 */
public class LimitExceededException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  private final int status;

  /**
   * A limit of the given HTTP status.
   *
   * @deprecated throw the subclass that names the limit; the error mapping decides the status.
   *     Kept so that code written against 0.1 still compiles; the error mapping answers such an
   *     exception with {@code status} (and {@code Retry-After: 1} for 503, a full queue).
   */
  @Deprecated(since = "0.1")
  public LimitExceededException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** For the subclasses, which name the limit and carry no status. */
  protected LimitExceededException(String message) {
    super(message);
    this.status = 0;
  }

  /**
   * Returns the HTTP status that reports this limit.
   *
   * @deprecated use the error mapping ({@code ErrorMapping.status} or {@code ErrorMapping.answer}
   *     in {@code dev.invertingproxy.core}), which decides the status of every failure. Kept for
   *     code written against 0.1: the subclasses answer what the error mapping answers.
   */
  @Deprecated(since = "0.1")
  public int status() {
    return status;
  }
}
