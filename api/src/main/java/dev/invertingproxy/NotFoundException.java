package dev.invertingproxy;

/**
 * What a call names does not exist: an endpoint, or a backend of the admin API (404). A request ID
 * that is not parked is an {@link UnknownRequestException}.
 *
 * @since 0.1
 */
public class NotFoundException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public NotFoundException(String message) {
    super(message);
  }
}
