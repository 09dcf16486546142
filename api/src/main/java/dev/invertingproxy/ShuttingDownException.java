package dev.invertingproxy;

/**
 * The proxy is shutting down and answers what still waits: 503 with {@code Retry-After: 5}
 * (another node, or this one restarted, may serve the retry).
 *
 * @since 0.1
 */
public class ShuttingDownException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public ShuttingDownException(String message) {
    super(message);
  }
}
