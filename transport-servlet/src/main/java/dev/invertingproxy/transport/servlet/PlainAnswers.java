package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.core.ErrorAnswer;
import dev.invertingproxy.core.ErrorMapping;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;

/**
 * The one writer of the proxy's own error answers on a servlet response (agent, admin and client
 * endpoints): it writes the text/plain answer {@link ErrorAnswer} makes ({@link ErrorAnswer#head},
 * {@link ErrorAnswer#body}), for the status, reason and headers {@link ErrorMapping#answer} gives
 * a failure.
 */
final class PlainAnswers {
  private PlainAnswers() {}

  /** Answers {@code failure} as {@link ErrorMapping#answer} maps it, unless already committed. */
  static void error(HttpServletResponse response, Throwable failure) throws IOException {
    write(response, ErrorMapping.answer(failure));
  }

  /**
   * Answers {@code status} with {@code reason} as the body, if nothing was committed yet; for a
   * failure no exception type names (prefer {@link #error(HttpServletResponse, Throwable)}).
   */
  static void error(HttpServletResponse response, int status, String reason) throws IOException {
    write(response, new ErrorAnswer(status, reason, Headers.empty()));
  }

  /** Writes {@code answer} as its text/plain answer. */
  static void write(HttpServletResponse response, ErrorAnswer answer) throws IOException {
    if (response.isCommitted()) {
      return; // too late for a status; the stream is cut instead
    }
    response.reset();
    response.setStatus(answer.status());
    for (Header field : answer.head().headers().fields()) {
      if (field.is("Content-Type")) {
        response.setContentType(field.value());
      } else if (field.is("Content-Length")) {
        response.setContentLengthLong(Long.parseLong(field.value()));
      } else {
        response.addHeader(field.name(), field.value());
      }
    }
    try (InputStream body = answer.body().stream()) {
      body.transferTo(response.getOutputStream());
    }
  }
}
