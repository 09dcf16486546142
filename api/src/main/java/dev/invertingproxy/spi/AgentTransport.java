package dev.invertingproxy.spi;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The agent's HTTP client: calls to the proxy and requests to the private backend. It only moves
 * bytes: it names no endpoint, protocol header or capability, and reads no answer. The agent
 * protocol (which call, which headers, what an answer means) is {@code core}'s ({@code
 * dev.invertingproxy.core.protocol.ProxyClient}); so is the HTTP/1.1 wire format.
 *
 * <p>Implementations are thread-safe.
 *
 * @since 0.1
 */
public interface AgentTransport extends AutoCloseable {

  /**
   * Sends one call to the proxy, its body (if any) streaming while {@link ProxyCall#body()} writes
   * it, and returns as soon as the answer's head arrived, whatever its status; the caller closes
   * the answer. Redirects are never followed. A {@code GET} may be sent again, on another
   * connection, when its connection failed before the answer's head (a pooled connection the proxy
   * closed); no other method is. Cancelling {@code cancel} aborts the call, before or after the
   * head.
   *
   * @throws IOException if the proxy cannot be reached, the call failed or was cancelled, or the
   *     transport is closed
   */
  ProxyAnswer call(ProxyCall call, CancelSignal cancel) throws IOException;

  /**
   * Sends a request to the backend, streaming its body, and returns as soon as the response head
   * arrived. The request keeps its {@code Host} header and its headers' order and case.
   *
   * @throws IOException if the backend cannot be reached
   */
  BackendResponse forward(RequestHead head, MessageBody body) throws IOException;

  /**
   * Like {@link #forward(RequestHead, MessageBody)}, and aborts the backend call, before or after
   * the response head, when {@code cancel} is cancelled. The default ignores the signal.
   */
  default BackendResponse forward(RequestHead head, MessageBody body, CancelSignal cancel)
      throws IOException {
    return forward(head, body);
  }

  /** Releases connections and threads this transport created. Idempotent. */
  @Override
  void close();

  /** Writes a streamed body. */
  @FunctionalInterface
  interface BodyWriter {
    void writeTo(OutputStream out) throws IOException;
  }

  /**
   * One call to the proxy.
   *
   * @param method the HTTP method
   * @param path the path relative to the proxy's agent base URL ({@link
   *     dev.invertingproxy.AgentConfig#proxyUrl()}), such as {@code agent/pending}
   * @param headers the call's headers, sent as given
   * @param body the body's writer, streamed with chunked framing; null for none ({@code POST}
   *     without one sends an empty body)
   * @param timeout a bound on the whole call; {@link Duration#ZERO} for none (long polls are
   *     bounded by the transport's read time-out, {@link dev.invertingproxy.AgentConfig#pollTimeout()}
   *     plus a margin)
   */
  record ProxyCall(
      String method, String path, Headers headers, @Nullable BodyWriter body, Duration timeout) {
    public ProxyCall {
      Objects.requireNonNull(method, "method");
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(headers, "headers");
      Objects.requireNonNull(timeout, "timeout");
    }
  }

  /** The proxy's answer to a {@link ProxyCall}: its head and its body, streaming. */
  interface ProxyAnswer extends Closeable {
    /** Returns the status code. */
    int status();

    /** Returns the reason phrase; may be empty. */
    String message();

    /** Returns the answer's headers. */
    Headers headers();

    /** Returns the body, streaming; closing the answer closes it. */
    InputStream body();
  }

  /**
   * A backend's response, streaming. Closing it releases the connection; {@link #cancel()} aborts
   * the call.
   */
  interface BackendResponse extends Closeable {
    ResponseHead head();

    MessageBody body();

    /** Aborts the call to the backend, from any thread. */
    void cancel();
  }
}
