package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.ClientExchange;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/** A suspended servlet request as the engine sees it. Thread-safe: respond runs once. */
final class ServletClientExchange implements ClientExchange {
  private static final int BUFFER = 16 * 1024;

  private final HttpServletRequest request;
  private final HttpServletResponse response;
  private final AsyncContext async;
  private final ContainerSupport support;
  private final RequestHead head;
  private final MessageBody body;
  private final Optional<String> userId;
  private final AtomicBoolean responded = new AtomicBoolean();

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
    this.body = requestBody(request, headers);
  }

  private static MessageBody requestBody(HttpServletRequest request, Headers headers) {
    long length;
    if (headers.contains("Transfer-Encoding")) {
      length = -1;
    } else if (headers.contains("Content-Length")) {
      length = request.getContentLengthLong();
    } else {
      return MessageBody.empty(); // HTTP/1.1: neither header means no body
    }
    InputStream in;
    try {
      in = request.getInputStream();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return MessageBody.of(
        in,
        length,
        () -> {
          if (!request.isTrailerFieldsReady()) {
            return Headers.empty();
          }
          Headers.Builder trailers = Headers.builder();
          request.getTrailerFields().forEach(trailers::add);
          return trailers.build();
        });
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
    if (!responded.compareAndSet(false, true)) {
      throw new IllegalStateException("already responded");
    }
    try {
      response.setStatus(head.status());
      for (Header field : head.headers().fields()) {
        response.addHeader(field.name(), field.value());
      }
      if (body.contentLength() < 0) {
        response.setTrailerFields(() -> trailerMap(body.trailers()));
      }
      copy(body.stream(), response.getOutputStream());
    } catch (IOException readFailure) {
      support.abort(request, response, readFailure);
      completeQuietly();
      throw readFailure;
    } catch (RuntimeException e) {
      support.abort(request, response, e);
      completeQuietly();
      throw e;
    }
    completeQuietly();
  }

  /** Copies, flushing whenever the source has nothing more at once (streams stay live). */
  private void copy(InputStream in, OutputStream out) throws IOException {
    byte[] buffer = new byte[BUFFER];
    while (true) {
      int n = in.read(buffer);
      if (n < 0) {
        break;
      }
      try {
        out.write(buffer, 0, n);
        if (in.available() == 0) {
          out.flush();
        }
      } catch (IOException e) {
        throw new ClientGoneException("the client disconnected: " + e.getMessage(), e);
      }
    }
  }

  private void completeQuietly() {
    try {
      async.complete();
    } catch (IllegalStateException alreadyDone) {
      // the container completed it (the client left)
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
