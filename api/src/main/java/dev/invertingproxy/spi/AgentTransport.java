package dev.invertingproxy.spi;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The agent's HTTP client: to the proxy (the three v1 calls) and to the private backend. It only
 * moves bytes; the wire format is read and written by {@code core}.
 *
 * <p>Implementations are thread-safe.
 *
 * @since 0.1
 */
public interface AgentTransport extends AutoCloseable {

  /**
   * The capability of a proxy that sends cancel notices ({@code agent/cancelled}, see the
   * project's protocol document). The reference proxies do not.
   */
  String CANCEL_NOTICES = "cancel-notices";

  /**
   * The capability of a proxy that hands out requests in the poll itself ({@code agent/next}, see
   * the project's protocol document): one call instead of a list and a read. The reference
   * proxies do not.
   */
  String NEXT_REQUEST = "next-request";

  /**
   * The extension {@code leave-notice}: the proxy takes {@link #leave}, the agent's goodbye, so
   * that it stops counting the agent as connected at once.
   */
  String LEAVE_NOTICE = "leave-notice";

  /**
   * Long-polls {@code {proxy}agent/pending}.
   *
   * @return the pending request IDs; empty when the poll ended with none
   * @throws ProxyCallException if the proxy answered with a status other than 200
   * @throws IOException on a transport failure
   */
  List<String> listPending(String backendId) throws IOException;

  /**
   * Like {@link #listPending(String)}; cancelling {@code cancel} aborts the call (the agent stops).
   * The default ignores the signal.
   */
  default List<String> listPending(String backendId, CancelSignal cancel) throws IOException {
    return listPending(backendId);
  }

  /**
   * Returns the capabilities the proxy announced (header {@code X-Inverting-Proxy-Capabilities})
   * on its latest answer to {@link #listPending} or {@link #nextRequest}; empty for the reference
   * proxies.
   */
  default Set<String> proxyCapabilities() {
    return Set.of();
  }

  /**
   * Long-polls {@code {proxy}agent/cancelled}: the IDs of requests of {@code backendId} that an
   * agent holds and whose clients have left. Call it only if the proxy announced {@link
   * #CANCEL_NOTICES}: a reference proxy would take the call for a list call.
   *
   * @throws UnsupportedOperationException if this transport cannot
   */
  default List<String> listCancelled(String backendId) throws IOException {
    throw new UnsupportedOperationException("this transport cannot receive cancel notices");
  }

  /**
   * Long-polls {@code {proxy}agent/next}: waits for a request of {@code backendId} and returns it
   * claimed, like {@link #readRequest}. Call it only if the proxy announced {@link #NEXT_REQUEST}.
   * Cancelling {@code cancel} aborts the call.
   *
   * @return the proxy's metadata headers (with the request ID) and the request in HTTP/1.1 wire
   *     format, which the caller closes; null when the poll ended with none
   * @throws ProxyCallException if the proxy answered with a status other than 200 or 204
   * @throws UnsupportedOperationException if this transport cannot
   */
  default @Nullable WireMessage nextRequest(String backendId, CancelSignal cancel)
      throws IOException {
    throw new UnsupportedOperationException("this transport cannot take requests from polls");
  }

  /**
   * Tells the proxy that this agent stopped polling and is going ({@code POST {proxy}agent/leave});
   * call it only if the proxy announced {@link #LEAVE_NOTICE}. The agent names itself in its proxy
   * headers ({@code X-Inverting-Proxy-Agent-ID}).
   *
   * @throws ProxyCallException if the proxy answered with a status other than 204
   * @throws UnsupportedOperationException if this transport cannot
   */
  default void leave(String backendId) throws IOException {
    throw new UnsupportedOperationException("this transport cannot say goodbye to the proxy");
  }

  /**
   * Reads one parked request from {@code {proxy}agent/request}.
   *
   * @return the proxy's metadata headers and the request in HTTP/1.1 wire format; the caller
   *     closes it
   * @throws ProxyCallException if the proxy answered with a status other than 200
   */
  WireMessage readRequest(String backendId, String requestId) throws IOException;

  /**
   * Posts a response to {@code {proxy}agent/response}, streaming the bytes {@code writer} writes
   * (the response in HTTP/1.1 wire format) while it writes them.
   *
   * @throws ProxyCallException if the proxy answered with a status other than 200
   */
  void postResponse(String backendId, String requestId, BodyWriter writer) throws IOException;

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
   * A message read from the proxy: its headers ({@code X-Inverting-Proxy-*} metadata) and body.
   *
   * @param headers the proxy's response headers
   * @param body the response body: the parked request in HTTP/1.1 wire format
   */
  record WireMessage(Headers headers, InputStream body) implements Closeable {
    @Override
    public void close() throws IOException {
      body.close();
    }
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
