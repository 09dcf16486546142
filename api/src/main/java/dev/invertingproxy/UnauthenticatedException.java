package dev.invertingproxy;

/**
 * A call lacks a valid credential (401).
 *
 * @since 0.1
 */
public class UnauthenticatedException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public UnauthenticatedException(String message) {
    super(message);
  }
}
