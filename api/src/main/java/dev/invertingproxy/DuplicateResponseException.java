package dev.invertingproxy;

/**
 * A response was already delivered for this request; the second is refused and the first is unaffected (409).
 *
 * @since 0.1
 */
public class DuplicateResponseException extends RequestConflictException {
  private static final long serialVersionUID = 1L;

  public DuplicateResponseException(String message) {
    super(message);
  }

  public DuplicateResponseException(String message, Throwable cause) {
    super(message, cause);
  }
}
