package dev.invertingproxy.core;

import dev.invertingproxy.Headers;
import java.util.Objects;

/**
 * How the proxy answers a failure: the status, a one-line reason for the body and the headers the
 * failure calls for (such as {@code WWW-Authenticate}, {@code Retry-After} or {@code Allow}).
 * {@link ErrorMapping#answer(Throwable)} makes one; the transports write it as a short text/plain
 * answer.
 *
 * @param status the HTTP status
 * @param reason one line, without CR or LF
 * @param headers the headers the failure calls for, beyond those of any text/plain answer
 * @since 0.1
 */
public record ErrorAnswer(int status, String reason, Headers headers) {
  public ErrorAnswer {
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(headers, "headers");
  }
}
