package dev.invertingproxy;

/**
 * A client's upload stopped: nothing of its body arrived within the connection's idle time-out
 * (408).
 *
 * @since 0.1
 */
public class BodyStalledException extends LimitExceededException {
  private static final long serialVersionUID = 1L;

  public BodyStalledException(String message) {
    super(message);
  }

  /**
   * @deprecated use the error mapping, which decides the status; this is what it answers (408).
   */
  @Deprecated(since = "0.1")
  @Override
  public int status() {
    return 408;
  }
}
