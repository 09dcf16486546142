package dev.invertingproxy;

/**
 * No agent of the backend is connected: none polls, none polled within the liveness window, or
 * the last one said goodbye. The proxy answers 503 with {@code Retry-After: 5}.
 *
 * @since 0.1
 */
public class NoAgentException extends BackendUnavailableException {
  private static final long serialVersionUID = 1L;

  public NoAgentException(String message) {
    super(message);
  }
}
