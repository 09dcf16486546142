package dev.invertingproxy;

import java.util.Objects;

/**
 * The start line and headers of an HTTP request, as the client sent them.
 *
 * @param method the request method, case-sensitive ({@code GET})
 * @param target the raw request target exactly as received (origin form: path and query, still
 *     percent-encoded)
 * @param version the protocol version ({@code HTTP/1.1})
 * @param headers the header fields in their original order and case
 * @since 0.1
 */
public record RequestHead(String method, String target, String version, Headers headers) {
  public RequestHead {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(headers, "headers");
  }

  /** Returns a copy with other headers. */
  public RequestHead withHeaders(Headers newHeaders) {
    return new RequestHead(method, target, version, newHeaders);
  }
}
