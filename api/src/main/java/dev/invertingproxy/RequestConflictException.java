package dev.invertingproxy;

/**
 * The request is in a state that forbids the call, for example its body was already streamed to another read (409).
 *
 * @since 0.1
 */
public class RequestConflictException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public RequestConflictException(String message) {
    super(message);
  }

  public RequestConflictException(String message, Throwable cause) {
    super(message, cause);
  }
}
