package dev.invertingproxy.core;

import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * A client exchange as the engine answers it, reporting the request to the {@link ProxyListener}s
 * exactly once when it is over: after the response was written (or failed), or when the client
 * left before any response.
 *
 * <p>This class is thread-safe.
 */
final class ObservedClient implements ClientExchange {
  private final ClientExchange client;
  private final ProxyEvents events;
  private final Instant start;
  private final long startNanos = System.nanoTime();
  // Read at once: a container may recycle its request object once the response is complete.
  private final String address;
  private final String method;
  private final String target;
  private final AtomicBoolean responding = new AtomicBoolean();
  private final AtomicBoolean reported = new AtomicBoolean();
  private volatile @Nullable String backendId;
  private volatile @Nullable String reason;

  ObservedClient(ClientExchange client, ProxyEvents events, Instant start) {
    this.client = client;
    this.events = events;
    this.start = start;
    this.address = java.util.Objects.requireNonNullElse(client.remoteAddress(), "");
    RequestHead head = client.head();
    this.method = head.method();
    this.target = head.target();
  }

  /** The request was routed to {@code backend}. */
  void routedTo(String backend) {
    this.backendId = backend;
  }

  /** The proxy answers with an error of its own, for this reason. */
  void reason(String why) {
    this.reason = why;
  }

  /** The client left before any response: reported now, unless a response already started. */
  void left() {
    if (!responding.get()) {
      report(0, 0, false, "the client left before the response");
    }
  }

  @Override
  public void respond(ResponseHead head, MessageBody body) throws IOException {
    responding.set(true);
    CountingStream counted = new CountingStream(body.stream());
    MessageBody observed =
        new MessageBody() {
          @Override
          public long contentLength() {
            return body.contentLength();
          }

          @Override
          public InputStream stream() {
            return counted;
          }

          @Override
          public dev.invertingproxy.Headers trailers() {
            return body.trailers();
          }

          @Override
          public void close() throws IOException {
            body.close();
          }
        };
    try {
      client.respond(head, observed);
    } catch (IOException | RuntimeException e) {
      String why = reason;
      report(head.status(), counted.count, false, why != null ? why : "response cut: " + e.getMessage());
      throw e;
    }
    report(head.status(), counted.count, true, reason);
  }

  private void report(int status, long bytes, boolean complete, @Nullable String why) {
    if (reported.compareAndSet(false, true)) {
      events.requestEnded(
          new ProxyListener.RequestEvent(
              start,
              address,
              method,
              target,
              backendId,
              status,
              bytes,
              Duration.ofNanos(System.nanoTime() - startNanos),
              complete,
              why));
    }
  }

  @Override
  public RequestHead head() {
    return client.head();
  }

  @Override
  public MessageBody body() {
    return client.body();
  }

  @Override
  public String remoteAddress() {
    return client.remoteAddress();
  }

  @Override
  public String scheme() {
    return client.scheme();
  }

  @Override
  public Optional<String> userId() {
    return client.userId();
  }

  /** Counts the bytes read from a response body (one reading thread). */
  private static final class CountingStream extends FilterInputStream {
    volatile long count;

    CountingStream(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        count++;
      }
      return b;
    }

    @Override
    public int read(byte[] buffer, int off, int len) throws IOException {
      int n = super.read(buffer, off, len);
      if (n > 0) {
        count += n;
      }
      return n;
    }
  }
}
