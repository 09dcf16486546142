package dev.invertingproxy;

/**
 * A call lacks something it needs, such as a required header (400).
 *
 * @since 0.1
 */
public class BadRequestException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public BadRequestException(String message) {
    super(message);
  }

  public BadRequestException(String message, Throwable cause) {
    super(message, cause);
  }
}
