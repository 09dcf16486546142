package dev.invertingproxy;

/**
 * The agent that took a request failed before it could answer it (its connection broke), and the
 * request could not be offered again (the proxy answers 502).
 *
 * @since 0.1
 */
public class AgentFailedException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public AgentFailedException(String message) {
    super(message);
  }

  public AgentFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
