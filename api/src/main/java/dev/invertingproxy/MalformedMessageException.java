package dev.invertingproxy;

/**
 * Bytes that should be an HTTP/1.1 message are not one, or break a framing rule (400).
 *
 * @since 0.1
 */
public class MalformedMessageException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public MalformedMessageException(String message) {
    super(message);
  }

  public MalformedMessageException(String message, Throwable cause) {
    super(message, cause);
  }
}
