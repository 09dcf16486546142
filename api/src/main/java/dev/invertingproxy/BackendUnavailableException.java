package dev.invertingproxy;

/**
 * No agent of the backend is polling, or the backend itself cannot be reached (the proxy answers 503, or 502 when the agent reports the backend down).
 *
 * @since 0.1
 */
public class BackendUnavailableException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public BackendUnavailableException(String message) {
    super(message);
  }

  public BackendUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
