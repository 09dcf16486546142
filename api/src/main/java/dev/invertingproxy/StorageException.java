package dev.invertingproxy;

/**
 * The storage failed; the cause is kept (the proxy answers 503).
 *
 * @since 0.1
 */
public class StorageException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public StorageException(String message) {
    super(message);
  }

  public StorageException(String message, Throwable cause) {
    super(message, cause);
  }
}
