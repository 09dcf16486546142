package dev.invertingproxy.core;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.internal.HeaderHygiene;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import dev.invertingproxy.core.internal.wire.HttpMessageWriter;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient.Claimed;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The relay of one claimed request by the agent: reads it from the proxy's answer, refuses a
 * target with a dot segment, forwards it to the backend (aborted if the client leaves, see {@link
 * CancelNotices}) and posts the backend's response back while the backend produces it. A backend
 * that cannot be reached is answered 502 with the reason, a silent one 504.
 *
 * <p>This class is thread-safe; each relay runs on the calling thread.
 */
final class RequestRelay {
  private static final System.Logger LOGGER = System.getLogger(DefaultAgentLoop.class.getName());

  private final ProxyClient client;
  private final AgentTransport transport;
  private final CancelNotices notices;
  /** The backend as messages name it: its URL, or how a ready-made transport reaches it. */
  private final String backend;
  private final boolean forwardUserId;
  private final int maxHeadBytes;
  private final BooleanSupplier running;

  RequestRelay(
      ProxyClient client,
      AgentTransport transport,
      CancelNotices notices,
      String backend,
      boolean forwardUserId,
      int maxHeadBytes,
      BooleanSupplier running) {
    this.client = client;
    this.transport = transport;
    this.notices = notices;
    this.backend = backend;
    this.forwardUserId = forwardUserId;
    this.maxHeadBytes = maxHeadBytes;
    this.running = running;
  }

  /** Relays {@code claimed} and closes it; failures are logged, never thrown. */
  void relay(Claimed claimed) {
    String id = claimed.requestId();
    CancelSignal signal = notices.register(id);
    try {
      try (claimed) {
        HttpMessageReader reader = new HttpMessageReader(claimed.wire(), maxHeadBytes);
        RequestHead head = reader.readRequestHead();
        MessageBody body = reader.requestBody(head);
        RequestHead forwarded = head;
        if (forwardUserId) {
          Headers headers = head.headers().without(ProtocolHeaders.USER_ID);
          Optional<String> user = claimed.userId();
          if (user.isPresent()) {
            headers = headers.toBuilder().add(ProtocolHeaders.USER_ID, user.get()).build();
          }
          forwarded = head.withHeaders(headers);
        }
        RequestHead request = forwarded;
        client.postResponse(id, out -> forward(id, request, body, out, signal));
      }
    } catch (ProxyCallException e) {
      // 404 or 410: the client left, or the request was cancelled or expired; routine, not a fault
      Level level = e.status() == 404 || e.status() == 410 ? Level.INFO : Level.WARNING;
      LOGGER.log(level, () -> "[" + id + "] response not delivered: " + e.getMessage());
    } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
      boolean stopping = !running.getAsBoolean() || e instanceof InterruptedException;
      LOGGER.log(
          stopping ? Level.DEBUG : Level.WARNING,
          () -> "[" + id + "] failed" + (stopping ? " (the agent stops)" : "") + ": " + e);
    } finally {
      notices.forget(id);
    }
  }

  private void forward(
      String id, RequestHead head, MessageBody body, OutputStream out, CancelSignal signal)
      throws IOException {
    Optional<String> refusal = RequestTargets.refusal(head.target());
    if (refusal.isPresent()) {
      // A proxy that does not apply the rule (the reference server): the backend or the HTTP
      // client would remove the dot segments, escaping the path prefix the proxy routed on.
      LOGGER.log(Level.WARNING, () -> "[" + id + "] refused: " + refusal.get());
      writeError(out, head.method(), 400, "the agent refused the request: " + refusal.get());
      return;
    }
    BackendResponse response;
    try {
      response = transport.forward(head, body, signal);
    } catch (IOException e) {
      if (signal.isCancelled()) {
        throw new IOException("cancelled: the client left", e); // nothing to answer
      }
      answerUnanswered(id, head, out, e);
      return;
    }
    try (response) {
      ResponseHead responseHead = response.head();
      ResponseHead cleaned =
          responseHead.withHeaders(HeaderHygiene.withoutHopByHop(responseHead.headers(), false));
      // Not flushed at the end: the transport ends the post, so a small answer leaves in one write.
      HttpMessageWriter.writeResponse(out, cleaned, response.body(), head.method());
    } catch (IOException | RuntimeException e) {
      response.cancel();
      throw e;
    }
  }

  /** The backend gave no response head: answer with 504 (silent) or 502 (unreachable). */
  private void answerUnanswered(String id, RequestHead head, OutputStream out, IOException failure)
      throws IOException {
    // A read time-out (SocketTimeoutException) or the call time-out is an InterruptedIOException.
    boolean silent = failure instanceof InterruptedIOException;
    LOGGER.log(
        Level.WARNING,
        () ->
            "[" + id + "] backend " + backend + (silent ? " silent: " : " unreachable: ") + failure);
    if (silent) {
      writeError(
          out,
          head.method(),
          504,
          "the backend " + backend + " did not answer within the agent's time-out (idle or total)");
    } else {
      writeError(
          out,
          head.method(),
          502,
          "the agent could not reach the backend " + backend + ": " + failure.getMessage());
    }
  }

  /** Answers for a backend that could not answer (502, 504), with the reason in the body. */
  private static void writeError(OutputStream out, String method, int status, String reason)
      throws IOException {
    ErrorAnswer error = new ErrorAnswer(status, reason, Headers.empty());
    HttpMessageWriter.writeResponse(out, error.head(), error.body(), method);
  }
}
