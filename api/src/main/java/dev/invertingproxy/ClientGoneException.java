package dev.invertingproxy;

/**
 * The client of a request disconnected; its response has nowhere to go (the agent's post is answered 410).
 *
 * @since 0.1
 */
public class ClientGoneException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public ClientGoneException(String message) {
    super(message);
  }

  public ClientGoneException(String message, Throwable cause) {
    super(message, cause);
  }
}
