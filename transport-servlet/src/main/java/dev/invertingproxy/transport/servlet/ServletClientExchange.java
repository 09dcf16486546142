package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.ClientExchange;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.core.spi.Cancellable;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A suspended servlet request as the engine sees it. While parked with its body read, it is
 * watched for a client disconnect, which withdraws the request. A body that cannot be read fails
 * with the reason the container support finds ({@link ContainerSupport#bodyFailure}); if the client
 * left, the exchange is ended at once (nothing to answer). Thread-safe.
 */
final class ServletClientExchange implements ClientExchange {
  private static final int BUFFER = 16 * 1024;

  private final HttpServletRequest request;
  private final HttpServletResponse response;
  private final AsyncContext async;
  private final ContainerSupport support;
  private final RequestHead head;
  private final MessageBody body;
  private final Optional<String> userId;

  // guarded by this
  private boolean responded;
  private boolean abandoned; // the client left while sending its body
  private boolean bodyRead;
  private @Nullable Cancellable parked;
  private ContainerSupport.Watch watch = ContainerSupport.Watch.NONE;

  ServletClientExchange(
      HttpServletRequest request,
      HttpServletResponse response,
      AsyncContext async,
      ContainerSupport support,
      Optional<String> userId) {
    this.request = request;
    this.response = response;
    this.async = async;
    this.support = support;
    this.userId = userId;
    Headers headers = support.requestHeaders(request);
    String query = request.getQueryString();
    String target = request.getRequestURI() + (query == null ? "" : "?" + query);
    this.head = new RequestHead(request.getMethod(), target, request.getProtocol(), headers);
    this.body = requestBody(headers);
  }

  private MessageBody requestBody(Headers headers) {
    long length;
    if (headers.contains("Transfer-Encoding")) {
      length = -1;
    } else if (headers.contains("Content-Length") && request.getContentLengthLong() != 0) {
      length = request.getContentLengthLong();
    } else {
      bodyRead = true; // no body (HTTP/1.1: neither header), or an empty one
      return MessageBody.empty();
    }
    InputStream in;
    try {
      in = request.getInputStream();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    long declared = length;
    // Notices the end of the body: end of stream, or the declared length reached (a reader that
    // knows the length never asks for more); and why it failed, if it does.
    InputStream watched =
        new FilterInputStream(in) {
          private long count;

          @Override
          public int read() throws IOException {
            int b;
            try {
              b = super.read();
            } catch (IOException e) {
              throw bodyFailed(e, declared < 0);
            }
            counted(b < 0 ? -1 : 1);
            return b;
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            try {
              return counted(super.read(b, off, len));
            } catch (IOException e) {
              throw bodyFailed(e, declared < 0);
            }
          }

          private int counted(int result) {
            if (result > 0) {
              count += result;
            }
            if (result < 0 || count == declared) {
              bodyFinished();
            }
            return result;
          }
        };
    return MessageBody.of(watched, length, () -> support.requestTrailers(request));
  }

  /**
   * Reading the body failed: returns the typed reason for the engine; a client that left gets no
   * answer, its exchange ends now.
   */
  private InvertingProxyException bodyFailed(IOException failure, boolean chunked) {
    InvertingProxyException reason = support.bodyFailure(request, failure, chunked);
    if (reason instanceof ClientGoneException) {
      synchronized (this) {
        if (responded) {
          return reason;
        }
        responded = true;
        abandoned = true;
        watch.stop();
      }
      support.abort(request, response, async, reason);
    }
    return reason;
  }

  /** The engine parked the request: watch for a disconnect once the body is read. */
  synchronized void parked(Cancellable cancellable) {
    this.parked = cancellable;
    watchIfIdle();
  }

  private synchronized void bodyFinished() {
    bodyRead = true;
    watchIfIdle();
  }

  private void watchIfIdle() {
    Cancellable cancellable = parked;
    if (bodyRead && cancellable != null && !responded && watch == ContainerSupport.Watch.NONE) {
      watch = support.watchDisconnect(request, async, cancellable::cancel);
    }
  }

  /** Ends the exchange with a 500 if nothing was sent yet (an unexpected failure). */
  void failUnanswered(Throwable cause) {
    synchronized (this) {
      if (responded) {
        return;
      }
      responded = true;
      watch.stop();
    }
    try {
      if (!response.isCommitted()) {
        response.setStatus(500);
        response.setContentLength(0);
      }
    } finally {
      try {
        async.complete();
      } catch (IllegalStateException alreadyDone) {
        // nothing left to end
      }
    }
  }

  private synchronized void startResponse() {
    if (abandoned) {
      throw new ClientGoneException("the client left while sending the request body");
    }
    if (responded) {
      throw new IllegalStateException("already responded");
    }
    responded = true;
    watch.stop();
  }

  @Override
  public RequestHead head() {
    return head;
  }

  @Override
  public MessageBody body() {
    return body;
  }

  @Override
  public String remoteAddress() {
    return request.getRemoteAddr();
  }

  @Override
  public String scheme() {
    return request.getScheme();
  }

  @Override
  public Optional<String> userId() {
    return userId;
  }

  @Override
  public void respond(ResponseHead head, MessageBody body) throws IOException {
    startResponse();
    try {
      response.setStatus(head.status());
      support.addResponseHeaders(request, response, head.headers());
      if (body.contentLength() < 0 && mayHaveBody(head.status())) {
        // Chunked even if the client asked to close: an aborted body must look incomplete.
        if ("HTTP/1.1".equals(request.getProtocol())) {
          response.setHeader("Transfer-Encoding", "chunked");
          response.setTrailerFields(() -> trailerMap(body.trailers()));
        }
      }
      InputStream in = body.stream();
      if (body.contentLength() != 0 && in.available() == 0) {
        // Nothing to send with the head yet (a stream that waits for events): send the head now.
        response.flushBuffer();
      }
      copy(in, response.getOutputStream(), body.contentLength());
    } catch (ClientGoneException e) {
      support.abort(request, response, async, e);
      throw e;
    } catch (IOException | RuntimeException readFailure) {
      support.abort(request, response, async, readFailure);
      throw readFailure;
    }
    try {
      async.complete();
    } catch (IllegalStateException alreadyDone) {
      // the container ended the cycle (the client left)
    }
  }

  private boolean mayHaveBody(int status) {
    return !"HEAD".equals(request.getMethod())
        && status >= 200
        && status != 204
        && status != 304;
  }

  /**
   * Copies, flushing whenever the source has nothing more at once (streams stay live); the end of
   * a body of known length is left to the completion, so a small answer leaves in one write.
   */
  private static void copy(InputStream in, OutputStream out, long length) throws IOException {
    byte[] buffer = new byte[BUFFER];
    long copied = 0;
    while (true) {
      int n = in.read(buffer);
      if (n < 0) {
        break;
      }
      copied += n;
      try {
        out.write(buffer, 0, n);
        if (copied != length && in.available() == 0) {
          out.flush();
        }
      } catch (IOException e) {
        throw new ClientGoneException("the client disconnected: " + e.getMessage(), e);
      }
    }
  }

  private static Map<String, String> trailerMap(Headers trailers) {
    Map<String, String> map = new LinkedHashMap<>();
    for (Header field : trailers.fields()) {
      map.merge(field.name(), field.value(), (a, b) -> a + ", " + b);
    }
    return map;
  }
}
