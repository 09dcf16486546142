package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.Headers;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Collections;

/** Portable Servlet API behaviour, for containers without a dedicated {@link ContainerSupport}. */
final class GenericSupport implements ContainerSupport {
  static final GenericSupport INSTANCE = new GenericSupport();

  private GenericSupport() {}

  @Override
  public Headers requestHeaders(HttpServletRequest request) {
    Headers.Builder headers = Headers.builder();
    for (String name : Collections.list(request.getHeaderNames())) {
      for (String value : Collections.list(request.getHeaders(name))) {
        headers.add(name, value);
      }
    }
    return headers.build();
  }

  @Override
  public void onDisconnect(HttpServletRequest request, Runnable action) {
    // Tomcat reports a closed connection through onError; most containers notice it only at
    // the next write.
    request
        .getAsyncContext()
        .addListener(
            new AsyncListener() {
              @Override
              public void onComplete(AsyncEvent event) {}

              @Override
              public void onTimeout(AsyncEvent event) {}

              @Override
              public void onError(AsyncEvent event) {
                action.run();
              }

              @Override
              public void onStartAsync(AsyncEvent event) {}
            });
  }

  @Override
  public void abort(HttpServletRequest request, HttpServletResponse response, Throwable cause) {
    // No portable abort exists; closing the stream early at least stops writing. A response
    // with a Content-Length stays visibly short to the client.
    try {
      response.getOutputStream().close();
    } catch (IOException | IllegalStateException ignored) {
      // already closed
    }
  }
}
