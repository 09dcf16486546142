package dev.invertingproxy;

/**
 * No parked request has that ID for that backend: never existed, already answered, cancelled or expired (404).
 *
 * @since 0.1
 */
public class UnknownRequestException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public UnknownRequestException(String message) {
    super(message);
  }

  public UnknownRequestException(String message, Throwable cause) {
    super(message, cause);
  }
}
