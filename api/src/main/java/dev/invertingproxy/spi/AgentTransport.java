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
   * Long-polls {@code {proxy}agent/pending}.
   *
   * @return the pending request IDs; empty when the poll ended with none
   * @throws ProxyCallException if the proxy answered with a status other than 200
   * @throws IOException on a transport failure
   */
  List<String> listPending(String backendId) throws IOException;

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
