package dev.invertingproxy;

/**
 * A configured limit was exceeded; carries the HTTP status the proxy answers with (413 for a
 * body, 431 for headers, 503 for a full queue).
 *
 * @since 0.1
 */
public class LimitExceededException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  private final int status;

  public LimitExceededException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** Returns the HTTP status that reports this limit. */
  public int status() {
    return status;
  }
}
