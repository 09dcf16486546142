package dev.invertingproxy;

/**
 * No plugin was found for what the configuration asks; the message names the artifact to add.
 *
 * @since 0.1
 */
public class ProviderNotFoundException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public ProviderNotFoundException(String message) {
    super(message);
  }

  public ProviderNotFoundException(String message, Throwable cause) {
    super(message, cause);
  }
}
