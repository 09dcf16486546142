package dev.invertingproxy;

/**
 * A caller is authenticated but not allowed to do this, for example an agent acting for a backend
 * whose record does not name it (403).
 *
 * @since 0.1
 */
public class ForbiddenException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public ForbiddenException(String message) {
    super(message);
  }
}
