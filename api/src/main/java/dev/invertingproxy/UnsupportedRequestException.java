package dev.invertingproxy;

/**
 * A client request the proxy cannot relay faithfully and will not: a tunnel ({@code CONNECT}), a
 * {@code TRACE} (it would echo the client's credentials to whoever can script a request), or a
 * transfer coding other than {@code chunked} (501, as RFC 9112 asks for unknown codings).
 *
 * @since 0.1
 */
public class UnsupportedRequestException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  public UnsupportedRequestException(String message) {
    super(message);
  }
}
