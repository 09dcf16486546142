package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.Headers;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** The one-line text/plain error answers of the agent and admin endpoints. */
final class PlainAnswers {
  private PlainAnswers() {}

  /** Answers {@code status} with {@code reason} as the body, if nothing was committed yet. */
  static void error(HttpServletResponse response, int status, String reason) throws IOException {
    error(response, status, reason, Headers.empty());
  }

  /** Like {@link #error(HttpServletResponse, int, String)}, with extra headers. */
  static void error(HttpServletResponse response, int status, String reason, Headers extra)
      throws IOException {
    if (response.isCommitted()) {
      return; // too late for a status; the stream is cut instead
    }
    response.reset();
    response.setHeader("Cache-Control", "no-store");
    extra.fields().forEach(field -> response.setHeader(field.name(), field.value()));
    byte[] text = (reason + "\n").getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.setContentType("text/plain;charset=utf-8");
    response.setContentLength(text.length);
    response.getOutputStream().write(text);
  }
}
