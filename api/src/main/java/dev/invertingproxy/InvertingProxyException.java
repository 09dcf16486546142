package dev.invertingproxy;

/**
 * The root of every unchecked exception this library throws. Subclasses exist where a caller
 * would act differently; the proxy maps each to one HTTP status in one place.
 *
 * @since 0.1
 */
public class InvertingProxyException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InvertingProxyException(String message) {
    super(message);
  }

  public InvertingProxyException(String message, Throwable cause) {
    super(message, cause);
  }
}
