package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.BodyStalledException;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.MalformedMessageException;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.StaticException;
import org.jspecify.annotations.Nullable;

/**
 * Jetty 12 (ee10).
 *
 * <ul>
 *   <li>Fields in wire order from the core request (with {@code
 *       HttpCompliance.Violation.CASE_SENSITIVE_FIELD_NAME} allowed, in their original case).
 *   <li>Disconnects: Jetty does not read from an HTTP/1.1 connection while a request is handled,
 *       so neither {@code AsyncListener.onError} nor its failure listeners fire when a parked
 *       client leaves (measured on 12.1.14: only at the async time-out). This class registers read
 *       interest on the connection's end point while the request is parked and its body read:
 *       end of stream (FIN or RST) is seen within milliseconds. Pipelined bytes that arrive
 *       meanwhile are handed back to the connection. HTTP/2 and other connections are not watched.
 *   <li>Abort: {@code ServletChannel.abort}, which closes the connection without a final chunk.
 *   <li>A request body that cannot be read: Jetty's parser reports a malformed body (an overflowing
 *       chunk size, an overlong chunk extension, a bad character in a chunk size line or trailer)
 *       as an early end of the body, {@code EofException("Early EOF")}, its reason dropped (12.1:
 *       {@code HttpParser.badMessage} after the head calls {@code earlyEOF}), exactly as when the
 *       client leaves. The connection tells them apart: a client that left has shut its side (FIN
 *       or RST), one whose body was refused is still connected. An idle time-out fails the read
 *       with a {@code TimeoutException}.
 * </ul>
 */
final class JettySupport implements ContainerSupport {
  static final JettySupport INSTANCE = new JettySupport();
  private static final System.Logger LOGGER = System.getLogger(JettySupport.class.getName());
  private static final Set<String> FRAMING =
      Set.of("content-length", "transfer-encoding", "connection");
  private static final String HTTP1_CONNECTION = "org.eclipse.jetty.server.internal.HttpConnection";

  private JettySupport() {}

  @Override
  public Headers requestHeaders(HttpServletRequest request) {
    return toHeaders(ServletContextRequest.getServletContextRequest(request).getHeaders());
  }

  @Override
  public void addResponseHeaders(
      HttpServletRequest request, HttpServletResponse response, Headers headers) {
    HttpFields.Mutable fields =
        ServletContextRequest.getServletContextRequest(request).getServletContextResponse().getHeaders();
    for (Header field : headers.fields()) {
      if (FRAMING.contains(field.name().toLowerCase(Locale.ROOT))) {
        response.addHeader(field.name(), field.value()); // Jetty must know the framing
      } else {
        // An untyped field: Jetty writes it as given, without normalizing name or value.
        fields.add(new HttpField((HttpHeader) null, field.name(), field.value()));
      }
    }
  }

  @Override
  public Headers requestTrailers(HttpServletRequest request) {
    HttpFields trailers = ServletContextRequest.getServletContextRequest(request).getTrailers();
    return trailers == null ? Headers.empty() : toHeaders(trailers);
  }

  private static Headers toHeaders(HttpFields fields) {
    Headers.Builder headers = Headers.builder();
    for (HttpField field : fields) {
      headers.add(field.getName(), field.getValue());
    }
    return headers.build();
  }

  @Override
  public InvertingProxyException bodyFailure(
      HttpServletRequest request, IOException failure, boolean chunked) {
    Connection connection =
        ServletContextRequest.getServletContextRequest(request)
            .getConnectionMetaData()
            .getConnection();
    EndPoint endPoint = connection.getEndPoint();
    if (causedBy(failure, TimeoutException.class)) {
      return stalled(endPoint);
    }
    if (!HTTP1_CONNECTION.equals(connection.getClass().getName())) {
      // HTTP/2: the end point is the connection every stream shares, and says nothing of this
      // stream's body; a reset stream is not a malformed one.
      return GenericSupport.INSTANCE.bodyFailure(request, failure, chunked);
    }
    if (!endPoint.isOpen() || endPoint.isInputShutdown()) {
      return new ClientGoneException(
          "the client left while sending the request body: " + failure.getMessage(), failure);
    }
    if (failure instanceof EofException) {
      // Still connected, yet the body "ended early": Jetty's parser refused it (see above).
      return new MalformedMessageException(
          chunked
              ? "malformed request body: invalid chunked framing (a chunk size, chunk extension"
                  + " or trailer the proxy's HTTP parser refused)"
              : "malformed request body",
          failure);
    }
    return GenericSupport.INSTANCE.bodyFailure(request, failure, chunked);
  }

  /** An upload that stopped: nothing arrived within the connection's idle time-out (408). */
  private static InvertingProxyException stalled(EndPoint endPoint) {
    return new BodyStalledException(
        "the request body stalled: nothing arrived within the connection's idle time-out ("
            + endPoint.getIdleTimeout()
            + " ms)");
  }

  private static boolean causedBy(Throwable failure, Class<? extends Throwable> type) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (type.isInstance(cause)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public Watch watchDisconnect(HttpServletRequest request, AsyncContext async, Runnable onGone) {
    Request core = ServletContextRequest.getServletContextRequest(request);
    Connection connection = core.getConnectionMetaData().getConnection();
    // Only HTTP/1.x connections (Jetty's internal HttpConnection) stop reading while a request
    // is handled; HTTP/2 streams report resets themselves.
    if (!(connection instanceof Connection.UpgradeTo)
        || !HTTP1_CONNECTION.equals(connection.getClass().getName())) {
      return GenericSupport.INSTANCE.watchDisconnect(request, async, onGone);
    }
    EndPoint endPoint = connection.getEndPoint();
    Watcher watcher =
        new Watcher(
            connection,
            cause -> {
              onGone.run();
              endPoint.close(cause); // nothing may be written to a client that left
              try {
                async.complete();
              } catch (IllegalStateException alreadyDone) {
                // completed meanwhile
              }
            });
    watcher.arm();
    return watcher::stop;
  }

  @Override
  public void abort(
      HttpServletRequest request,
      HttpServletResponse response,
      @Nullable AsyncContext async,
      Throwable cause) {
    // Closes the connection without the final chunk; the cycle ends with it (complete() would
    // throw afterwards).
    ServletContextRequest.getServletContextRequest(request).getServletChannel().abort(cause);
  }

  /** Read interest on a parked request's end point; end of stream means the client left. */
  private static final class Watcher implements Callback {
    private static final Throwable STOPPED = new StaticException("disconnect watch stopped");

    private final Connection connection;
    private final EndPoint endPoint;
    private final java.util.function.Consumer<Throwable> onGone;
    private final AtomicBoolean done = new AtomicBoolean();
    /** True while the end point's fill interest is ours. */
    private boolean interested; // guarded by this

    Watcher(Connection connection, java.util.function.Consumer<Throwable> onGone) {
      this.connection = connection;
      this.endPoint = connection.getEndPoint();
      this.onGone = onGone;
    }

    synchronized void arm() {
      if (done.get()) {
        return;
      }
      // Under the lock, so stop() never runs between flagging and registering; if the callback
      // fires inside tryFillInterested (same thread), it clears the flag itself.
      interested = true;
      if (!endPoint.tryFillInterested(this)) {
        interested = false;
        LOGGER.log(Level.DEBUG, "read interest already taken; this request is not watched");
      }
    }

    /**
     * Stops watching and takes back our read interest, and only ours: failing the end point's fill
     * interest fails whoever holds it, and failing Jetty's own read would close the connection.
     */
    synchronized void stop() {
      // Must happen before the response completes: a pending read would make Jetty close the
      // connection after the response.
      if (done.compareAndSet(false, true)
          && interested
          && endPoint instanceof AbstractEndPoint abstractEndPoint) {
        interested = false;
        abstractEndPoint.getFillInterest().onFail(STOPPED);
      }
    }

    @Override
    public void succeeded() {
      synchronized (this) {
        interested = false; // the interest fired: it is no longer registered
      }
      if (done.get()) {
        return;
      }
      ByteBuffer buffer = BufferUtil.allocate(4096);
      int filled;
      try {
        filled = endPoint.fill(buffer);
      } catch (IOException e) {
        gone(e);
        return;
      }
      if (filled < 0) {
        gone(new EofException("the client closed the connection"));
      } else if (filled == 0) {
        arm();
      } else if (done.compareAndSet(false, true)) {
        // The next pipelined request: the client is alive. Give the bytes back to the parser.
        ((Connection.UpgradeTo) connection).onUpgradeTo(buffer);
      }
    }

    private void gone(Throwable cause) {
      if (done.compareAndSet(false, true)) {
        LOGGER.log(Level.DEBUG, () -> "client left a parked request: " + cause);
        onGone.accept(cause);
      }
    }

    @Override
    public void failed(Throwable cause) {
      synchronized (this) {
        interested = false;
      }
      if (cause != STOPPED) {
        gone(cause);
      }
    }

    @Override
    public InvocationType getInvocationType() {
      return InvocationType.BLOCKING; // onGone cancels work: run it on a pool thread
    }
  }
}
