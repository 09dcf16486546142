package dev.invertingproxy.core;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ResponseHead;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * How the proxy (or the agent) answers a failure: the status, a one-line reason for the body and
 * the headers the failure calls for (such as {@code WWW-Authenticate}, {@code Retry-After} or
 * {@code Allow}). {@link ErrorMapping#answer(Throwable)} makes one; {@link #head()} and {@link
 * #body()} are the one short text/plain answer every transport writes for it.
 *
 * @param status the HTTP status
 * @param reason one line, without CR or LF
 * @param headers the headers the failure calls for, beyond those of any text/plain answer
 * @since 0.1
 */
public record ErrorAnswer(int status, String reason, Headers headers) {
  public ErrorAnswer {
    if (status < 100 || status > 599) {
      throw new IllegalArgumentException("not an HTTP status: " + status);
    }
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(headers, "headers");
  }

  /**
   * Returns the answer's head: HTTP/1.1, the status and its reason phrase, {@code Content-Type:
   * text/plain; charset=utf-8}, {@code Content-Length}, {@code Cache-Control: no-store}, then
   * {@link #headers()}.
   */
  public ResponseHead head() {
    Headers all =
        Headers.builder()
            .add("Content-Type", "text/plain; charset=utf-8")
            .add("Content-Length", Integer.toString(text().length))
            .add("Cache-Control", "no-store")
            .addAll(headers)
            .build();
    return new ResponseHead("HTTP/1.1", status, phrase(status), all);
  }

  /** Returns the answer's body: the reason and a line end, UTF-8. */
  public MessageBody body() {
    return MessageBody.of(text());
  }

  private byte[] text() {
    return (reason + "\n").getBytes(StandardCharsets.UTF_8);
  }

  /** Returns the reason phrase of a status the proxy or agent produces; empty for others. */
  static String phrase(int status) {
    return switch (status) {
      case 400 -> "Bad Request";
      case 401 -> "Unauthorized";
      case 403 -> "Forbidden";
      case 404 -> "Not Found";
      case 405 -> "Method Not Allowed";
      case 408 -> "Request Timeout";
      case 409 -> "Conflict";
      case 410 -> "Gone";
      case 413 -> "Content Too Large";
      case 429 -> "Too Many Requests";
      case 431 -> "Request Header Fields Too Large";
      case 500 -> "Internal Server Error";
      case 501 -> "Not Implemented";
      case 502 -> "Bad Gateway";
      case 503 -> "Service Unavailable";
      case 504 -> "Gateway Timeout";
      default -> "";
    };
  }
}
