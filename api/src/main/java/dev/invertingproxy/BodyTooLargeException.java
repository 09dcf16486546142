package dev.invertingproxy;

/**
 * A body is larger than the proxy accepts, for example a client's request body over the
 * configured limit (413).
 *
 * @since 0.1
 */
public class BodyTooLargeException extends LimitExceededException {
  private static final long serialVersionUID = 1L;

  public BodyTooLargeException(String message) {
    super(message);
  }

  /**
   * @deprecated use the error mapping, which decides the status; this is what it answers (413).
   */
  @Deprecated(since = "0.1")
  @Override
  public int status() {
    return 413;
  }
}
