package dev.invertingproxy.core;

import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import java.io.IOException;
import java.util.Optional;

/**
 * One client request as a transport (a servlet container, say) presents it to {@link
 * ProxyEngine#handle}, and the way back to that client.
 *
 * <p>Implementations must be thread-safe: {@link #respond} is called on whichever thread
 * delivers the response (an agent's post, a timer).
 *
 * @since 0.1
 */
public interface ClientExchange {

  /** Returns the request head exactly as received: method, raw target, version, headers. */
  RequestHead head();

  /**
   * Returns the request body, streaming from the client. When it cannot be read, its stream throws
   * what the transport knows of the reason, typed for {@link ErrorMapping}: a {@link
   * dev.invertingproxy.MalformedMessageException} if the client sent a malformed body (a broken
   * chunked framing; answered 400), a {@link dev.invertingproxy.ClientGoneException} if the client
   * left in the middle of it (nothing is answered: the transport ends the exchange itself), or
   * another {@link dev.invertingproxy.InvertingProxyException} (such as a {@link
   * dev.invertingproxy.BodyStalledException} for a stalled upload; answered 408). Any other failure
   * is answered 400 as a body that could not be read. Never the agent's failure: the request is
   * withdrawn and the agent's read is cut.
   */
  MessageBody body();

  /** Returns the client's IP address, for {@code X-Forwarded-For}. */
  String remoteAddress();

  /** Returns {@code http} or {@code https}, for {@code X-Forwarded-Proto}. */
  String scheme();

  /** Returns the end user's identity as the host application established it. */
  Optional<String> userId();

  /**
   * Sends the response head and streams {@code body} to the client; returns once the body has
   * ended and the response is complete. Called at most once.
   *
   * @throws dev.invertingproxy.ClientGoneException if the client cannot be written to
   * @throws IOException if reading {@code body} failed; the implementation has then aborted the
   *     client's response so that the client sees it incomplete (never as a clean end)
   */
  void respond(ResponseHead head, MessageBody body) throws IOException;
}
