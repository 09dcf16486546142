package dev.invertingproxy.spi;

import java.io.IOException;

/**
 * The proxy answered an agent call with an unexpected status.
 *
 * @since 0.1
 */
public class ProxyCallException extends IOException {
  private static final long serialVersionUID = 1L;

  private final int status;

  public ProxyCallException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** Returns the HTTP status the proxy answered. */
  public int status() {
    return status;
  }
}
