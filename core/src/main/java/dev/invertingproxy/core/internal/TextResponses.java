package dev.invertingproxy.core.internal;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.ErrorAnswer;
import java.nio.charset.StandardCharsets;

/**
 * The short text/plain answers the proxy and the agent produce themselves (errors, 502): the one
 * place that builds their head (status, {@code Content-Type}, {@code Content-Length}, {@code
 * Cache-Control: no-store} and the extra headers) and their one-line body. Every transport writes
 * what this builds.
 */
public final class TextResponses {
  private TextResponses() {}

  /** A text response: its head (with extra headers appended) and its body. */
  public record TextResponse(ResponseHead head, MessageBody body) {}

  /** Returns the text/plain answer of a failure, as {@code ErrorMapping.answer} made it. */
  public static TextResponse of(ErrorAnswer answer) {
    return of(answer.status(), answer.reason(), answer.headers());
  }

  /** Returns a text/plain response with {@code message} as a one-line body. */
  public static TextResponse of(int status, String message, Headers extra) {
    byte[] text = (message + "\n").getBytes(StandardCharsets.UTF_8);
    Headers headers =
        Headers.builder()
            .add("Content-Type", "text/plain; charset=utf-8")
            .add("Content-Length", Integer.toString(text.length))
            .add("Cache-Control", "no-store")
            .addAll(extra)
            .build();
    return new TextResponse(
        new ResponseHead("HTTP/1.1", status, reason(status), headers), MessageBody.of(text));
  }

  /** Returns the reason phrase of a status the proxy or agent produces. */
  public static String reason(int status) {
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
