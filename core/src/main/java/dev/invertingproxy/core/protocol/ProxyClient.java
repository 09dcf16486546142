package dev.invertingproxy.core.protocol;

import dev.invertingproxy.Headers;
import dev.invertingproxy.spi.AgentTransport.BodyWriter;
import dev.invertingproxy.spi.AgentTransport.ProxyAnswer;
import dev.invertingproxy.spi.AgentTransport.ProxyCall;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.CancelSignal;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The agent's client of the agent protocol: each call names its {@link AgentEndpoint} and {@link
 * ProtocolHeaders}, goes through an {@link AgentTransport} (which moves the bytes), and its answer
 * is read here into a typed result: the IDs and the {@link Capabilities} of a poll, a claimed
 * request, or a {@link ProxyCallException} with the status and the proxy's reason.
 *
 * <p>Every call carries the configured proxy headers (credentials, asked for per call), the
 * backend ID and the agent's own ID; the transport adds nothing.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class ProxyClient {
  private static final System.Logger LOG = System.getLogger(ProxyClient.class.getName());
  private static final int ERROR_BODY_CHARS = 200;

  /** The longest a goodbye may take: it runs while the agent stops. */
  static final Duration LEAVE_TIMEOUT = Duration.ofSeconds(5);

  private final AgentTransport transport;
  private final String backendId;
  private final @Nullable String agentId;
  private final Supplier<Headers> proxyHeaders;

  /**
   * A client for the agent of {@code backendId}.
   *
   * @param agentId the agent's own ID ({@link ProtocolHeaders#AGENT_ID}); null to send none, as
   *     the reference agent does
   * @param proxyHeaders headers added to every call (credentials), asked for per call
   */
  public ProxyClient(
      AgentTransport transport,
      String backendId,
      @Nullable String agentId,
      Supplier<Headers> proxyHeaders) {
    this.transport = Objects.requireNonNull(transport, "transport");
    this.backendId = Objects.requireNonNull(backendId, "backendId");
    this.agentId = agentId;
    this.proxyHeaders = Objects.requireNonNull(proxyHeaders, "proxyHeaders");
  }

  /** The answer to a list poll: the pending IDs (empty when the poll ended with none). */
  public record Listed(List<String> ids, Capabilities capabilities) {}

  /** The answer to a next poll: the request claimed for it, or none when the poll ended empty. */
  public record Polled(Optional<Claimed> claimed, Capabilities capabilities) {}

  /**
   * A request claimed by a read or a next poll: its ID, the proxy's metadata headers and the
   * request in HTTP/1.1 wire format, streaming; the caller closes it.
   */
  public record Claimed(String requestId, Headers headers, InputStream wire) implements Closeable {
    /** Returns the end user the proxy names ({@link ProtocolHeaders#USER_ID}), if any. */
    public Optional<String> userId() {
      return headers.first(ProtocolHeaders.USER_ID).filter(user -> !user.isEmpty());
    }

    @Override
    public void close() throws IOException {
      wire.close();
    }
  }

  /**
   * Long-polls {@link AgentEndpoint#PENDING}; cancelling {@code cancel} aborts it.
   *
   * @throws ProxyCallException if the proxy answered with a status other than 200
   * @throws IOException on a transport failure or a malformed ID list
   */
  public Listed listPending(CancelSignal cancel) throws IOException {
    long start = System.nanoTime();
    try (ProxyAnswer answer = call(AgentEndpoint.PENDING, null, null, Duration.ZERO, cancel)) {
      require(answer, 200, AgentEndpoint.PENDING);
      Capabilities capabilities = capabilities(answer);
      List<String> ids = RequestIdList.decode(answer.body(), AgentEndpoint.PENDING.path());
      LOG.log(
          Level.DEBUG,
          () -> AgentEndpoint.PENDING + " backend=" + backendId + ": " + ids.size() + " ids in "
              + millisSince(start) + " ms");
      return new Listed(ids, capabilities);
    } catch (IOException e) {
      logFailure(AgentEndpoint.PENDING, null, e);
      throw e;
    }
  }

  /**
   * Long-polls {@link AgentEndpoint#CANCELLED}: the IDs of requests of the backend that an agent
   * holds and whose clients have left. Call it only if the proxy announced {@link
   * Capabilities#CANCEL_NOTICES}: a reference proxy would take the call for a list call.
   *
   * @throws ProxyCallException if the proxy answered with a status other than 200
   */
  public List<String> listCancelled(CancelSignal cancel) throws IOException {
    try (ProxyAnswer answer = call(AgentEndpoint.CANCELLED, null, null, Duration.ZERO, cancel)) {
      require(answer, 200, AgentEndpoint.CANCELLED);
      return RequestIdList.decode(answer.body(), AgentEndpoint.CANCELLED.path());
    } catch (IOException e) {
      logFailure(AgentEndpoint.CANCELLED, null, e);
      throw e;
    }
  }

  /**
   * Long-polls {@link AgentEndpoint#NEXT}: waits for a request of the backend and returns it
   * claimed. Call it only if the proxy announced {@link Capabilities#NEXT_REQUEST}.
   *
   * @throws NotServedException if the proxy does not serve {@code agent/next} (404, 405, 501, or a
   *     200 that names no request: a server that takes any call for a list call)
   * @throws ProxyCallException if the proxy answered with another status than 200 or 204
   */
  public Polled next(CancelSignal cancel) throws IOException {
    ProxyAnswer answer = null;
    try {
      answer = call(AgentEndpoint.NEXT, null, null, Duration.ZERO, cancel);
      int status = answer.status();
      if (status == 404 || status == 405 || status == 501) {
        throw new NotServedException(status, describe(answer, AgentEndpoint.NEXT));
      }
      if (status == 204) {
        Capabilities capabilities = capabilities(answer);
        answer.close();
        return new Polled(Optional.empty(), capabilities);
      }
      Claimed claimed = claimed(answer, AgentEndpoint.NEXT, null);
      if (claimed == null) {
        throw new NotServedException(
            200, AgentEndpoint.NEXT + ": the answer names no request (not an agent/next answer)");
      }
      return new Polled(Optional.of(claimed), capabilities(answer));
    } catch (IOException | RuntimeException e) {
      if (answer != null) {
        closeQuietly(answer);
      }
      logFailure(AgentEndpoint.NEXT, null, e);
      throw e;
    }
  }

  /**
   * Reads one parked request from {@link AgentEndpoint#REQUEST}, claiming it.
   *
   * @throws ProxyCallException if the proxy answered with a status other than 200
   */
  public Claimed read(String requestId) throws IOException {
    ProxyAnswer answer = null;
    try {
      answer = call(AgentEndpoint.REQUEST, requestId, null, Duration.ZERO, new CancelSignal());
      Claimed claimed = claimed(answer, AgentEndpoint.REQUEST, requestId);
      return Objects.requireNonNull(claimed, "a read names its request");
    } catch (IOException | RuntimeException e) {
      if (answer != null) {
        closeQuietly(answer);
      }
      logFailure(AgentEndpoint.REQUEST, requestId, e);
      throw e;
    }
  }

  /**
   * Posts a response to {@link AgentEndpoint#RESPONSE}, streaming the bytes {@code writer} writes
   * (the response in HTTP/1.1 wire format) while it writes them.
   *
   * @throws ProxyCallException if the proxy answered with a status other than 200
   */
  public void postResponse(String requestId, BodyWriter writer) throws IOException {
    Objects.requireNonNull(writer, "writer");
    long start = System.nanoTime();
    try (ProxyAnswer answer =
        call(AgentEndpoint.RESPONSE, requestId, writer, Duration.ZERO, new CancelSignal())) {
      require(answer, 200, AgentEndpoint.RESPONSE);
      drain(answer.body());
      LOG.log(
          Level.DEBUG,
          () -> AgentEndpoint.RESPONSE + " backend=" + backendId + " request=" + requestId
              + ": 200 in " + millisSince(start) + " ms");
    } catch (IOException e) {
      logFailure(AgentEndpoint.RESPONSE, requestId, e);
      throw e;
    }
  }

  /**
   * Tells the proxy that this agent stopped polling and is going ({@link AgentEndpoint#LEAVE});
   * call it only if the proxy announced {@link Capabilities#LEAVE_NOTICE}. Bounded by 5 s.
   *
   * @throws ProxyCallException if the proxy answered with a status other than 204
   */
  public void leave() throws IOException {
    try (ProxyAnswer answer =
        call(AgentEndpoint.LEAVE, null, null, LEAVE_TIMEOUT, new CancelSignal())) {
      // Only this project's proxy answers 204; anything else is not a goodbye taken.
      if (answer.status() != 204) {
        throw new ProxyCallException(
            answer.status(),
            AgentEndpoint.LEAVE + ": the proxy answered " + answer.status() + ", not 204");
      }
    } catch (IOException e) {
      logFailure(AgentEndpoint.LEAVE, null, e);
      throw e;
    }
  }

  private ProxyAnswer call(
      AgentEndpoint endpoint,
      @Nullable String requestId,
      @Nullable BodyWriter body,
      Duration timeout,
      CancelSignal cancel)
      throws IOException {
    Headers extra;
    try {
      extra = proxyHeaders.get();
    } catch (RuntimeException e) {
      throw new IOException("the proxy headers could not be obtained: " + e, e);
    }
    Headers headers = (extra == null ? Headers.empty() : extra).with(ProtocolHeaders.BACKEND_ID, backendId);
    if (agentId != null) {
      headers = headers.with(ProtocolHeaders.AGENT_ID, agentId);
    }
    if (requestId != null) {
      headers = headers.with(ProtocolHeaders.REQUEST_ID, requestId);
    }
    if (body != null) {
      headers = headers.with("Content-Type", "text/plain");
    }
    return transport.call(
        new ProxyCall(endpoint.method(), endpoint.path(), headers, body, timeout), cancel);
  }

  /** A 200 answer naming a request, as a {@link Claimed}; null for a 200 that names none. */
  private static @Nullable Claimed claimed(
      ProxyAnswer answer, AgentEndpoint endpoint, @Nullable String asked) throws IOException {
    require(answer, 200, endpoint);
    Optional<String> id = answer.headers().first(ProtocolHeaders.REQUEST_ID);
    if (id.isEmpty() && asked == null) {
      return null;
    }
    // A read is answered for the ID it asked for, whatever the answer names.
    return new Claimed(asked != null ? asked : id.get(), answer.headers(), answer.body());
  }

  /** Capabilities of a successful poll answer (an error answer says nothing of the proxy). */
  private static Capabilities capabilities(ProxyAnswer answer) {
    return Capabilities.parse(answer.headers().first(ProtocolHeaders.CAPABILITIES).orElse(null));
  }

  private static void require(ProxyAnswer answer, int expected, AgentEndpoint endpoint)
      throws ProxyCallException {
    if (answer.status() != expected) {
      throw new ProxyCallException(answer.status(), describe(answer, endpoint));
    }
  }

  /** "{endpoint}: the proxy answered {status} {message}: {up to 200 characters of the body}". */
  private static String describe(ProxyAnswer answer, AgentEndpoint endpoint) {
    String body = errorBody(answer.body());
    return endpoint
        + ": the proxy answered "
        + answer.status()
        + (answer.message().isEmpty() ? "" : " " + answer.message())
        + (body.isEmpty() ? "" : ": " + body);
  }

  /** Returns up to 200 printable characters of an error body, best effort. */
  private static String errorBody(InputStream body) {
    try {
      byte[] bytes = body.readNBytes(ERROR_BODY_CHARS * 4); // UTF-8: at most 4 bytes per character
      String text = new String(bytes, StandardCharsets.UTF_8).strip();
      StringBuilder out = new StringBuilder(Math.min(text.length(), ERROR_BODY_CHARS));
      for (int i = 0; i < text.length() && out.length() < ERROR_BODY_CHARS; i++) {
        char c = text.charAt(i);
        out.append(Character.isISOControl(c) ? ' ' : c);
      }
      return out.toString();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  private static void drain(InputStream body) {
    try {
      body.transferTo(java.io.OutputStream.nullOutputStream());
    } catch (IOException e) {
      // the answer was already judged by its status; a broken tail does not change it
    }
  }

  private static void closeQuietly(Closeable closeable) {
    try {
      closeable.close();
    } catch (IOException | RuntimeException ignored) {
      // nothing to keep from it
    }
  }

  private void logFailure(AgentEndpoint endpoint, @Nullable String requestId, Exception e) {
    LOG.log(
        Level.DEBUG,
        () -> endpoint + " backend=" + backendId
            + (requestId == null ? "" : " request=" + requestId) + " failed: " + e);
  }

  private static long millisSince(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }
}
