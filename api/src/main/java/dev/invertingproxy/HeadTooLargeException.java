package dev.invertingproxy;

/**
 * An HTTP message head (request line or status line and header fields) or trailer section is
 * larger than the configured limit (431).
 *
 * @since 0.1
 */
public class HeadTooLargeException extends LimitExceededException {
  private static final long serialVersionUID = 1L;

  public HeadTooLargeException(String message) {
    super(message);
  }

  /**
   * @deprecated use the error mapping, which decides the status; this is what it answers (431).
   */
  @Deprecated(since = "0.1")
  @Override
  public int status() {
    return 431;
  }
}
