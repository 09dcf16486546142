package dev.invertingproxy.core.protocol;

/**
 * The proxy does not serve the endpoint called: a node without the extension (a reference server,
 * or an older node behind the same address after a rollback). The agent goes back to what every
 * proxy serves.
 *
 * @since 0.1
 */
public final class NotServedException extends ProxyCallException {
  private static final long serialVersionUID = 1L;

  public NotServedException(int status, String message) {
    super(status, message);
  }
}
