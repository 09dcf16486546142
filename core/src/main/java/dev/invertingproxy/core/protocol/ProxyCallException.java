package dev.invertingproxy.core.protocol;

import java.io.IOException;

/**
 * The proxy answered an agent call with a status the protocol does not expect there.
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
