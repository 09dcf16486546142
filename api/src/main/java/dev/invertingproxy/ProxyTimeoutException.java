package dev.invertingproxy;

/**
 * No response arrived in time (the proxy answers 504).
 *
 * @since 0.1
 */
public class ProxyTimeoutException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public ProxyTimeoutException(String message) {
    super(message);
  }

  public ProxyTimeoutException(String message, Throwable cause) {
    super(message, cause);
  }
}
