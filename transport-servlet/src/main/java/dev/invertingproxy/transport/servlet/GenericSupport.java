package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Collections;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * Portable Servlet API behaviour, for containers without a dedicated {@link ContainerSupport}:
 * header names come grouped (order of first appearance), a disconnect is noticed only where the
 * container reports it through {@code AsyncListener.onError} (Tomcat does; most others notice it at
 * the next write), an abort can only stop writing, and a request body that cannot be read is
 * taken for the client's error (400) without knowing whether it was malformed or the client left.
 */
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
  public void addResponseHeaders(
      HttpServletRequest request, HttpServletResponse response, Headers headers) {
    headers.fields().forEach(field -> response.addHeader(field.name(), field.value()));
  }

  @Override
  public Headers requestTrailers(HttpServletRequest request) {
    Headers.Builder trailers = Headers.builder();
    request.getTrailerFields().forEach(trailers::add);
    return trailers.build();
  }

  @Override
  public InvertingProxyException bodyFailure(
      HttpServletRequest request, IOException failure, boolean chunked) {
    // No portable way to tell a malformed body from a client that left: 400, which a client that
    // left never reads (the write fails and the exchange is aborted).
    return new BadRequestException(
        "the request body could not be read: " + failure.getMessage(), failure);
  }

  @Override
  public Watch watchDisconnect(HttpServletRequest request, AsyncContext async, Runnable onGone) {
    AtomicBoolean stopped = new AtomicBoolean();
    async.addListener(
        new AsyncListener() {
          @Override
          public void onComplete(AsyncEvent event) {}

          @Override
          public void onTimeout(AsyncEvent event) {}

          @Override
          public void onError(AsyncEvent event) {
            if (stopped.compareAndSet(false, true)) {
              onGone.run();
            }
          }

          @Override
          public void onStartAsync(AsyncEvent event) {}
        });
    return () -> stopped.set(true);
  }

  @Override
  public void abort(
      HttpServletRequest request,
      HttpServletResponse response,
      @Nullable AsyncContext async,
      Throwable cause) {
    // No portable abort exists: stop writing and end the cycle. A response with a Content-Length
    // stays visibly short; a chunked one may look complete on such containers.
    try {
      response.getOutputStream().close();
    } catch (IOException | IllegalStateException ignored) {
      // already closed
    }
    if (async != null) {
      try {
        async.complete();
      } catch (IllegalStateException ignored) {
        // already completed
      }
    }
  }
}
