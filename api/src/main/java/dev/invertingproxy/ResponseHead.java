package dev.invertingproxy;

import java.util.Objects;

/**
 * The status line and headers of an HTTP response.
 *
 * @param version the protocol version ({@code HTTP/1.1})
 * @param status the status code, 100 to 999
 * @param reason the reason phrase, possibly empty
 * @param headers the header fields in their original order and case
 * @since 0.1
 */
public record ResponseHead(String version, int status, String reason, Headers headers) {
  public ResponseHead {
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(headers, "headers");
    if (status < 100 || status > 999) {
      throw new IllegalArgumentException("status must be 100..999, was " + status);
    }
  }

  /** Returns a copy with other headers. */
  public ResponseHead withHeaders(Headers newHeaders) {
    return new ResponseHead(version, status, reason, newHeaders);
  }
}
