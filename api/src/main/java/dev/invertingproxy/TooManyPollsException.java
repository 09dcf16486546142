package dev.invertingproxy;

/**
 * A backend has as many waiting polls of one kind as the proxy allows; one more is refused
 * (429).
 *
 * @since 0.1
 */
public class TooManyPollsException extends LimitExceededException {
  private static final long serialVersionUID = 1L;

  public TooManyPollsException(String message) {
    super(message);
  }

  /**
   * @deprecated use the error mapping, which decides the status; this is what it answers (429).
   */
  @Deprecated(since = "0.1")
  @Override
  public int status() {
    return 429;
  }
}
