package dev.invertingproxy.transport.okhttp;

import com.squareup.moshi.JsonDataException;
import com.squareup.moshi.JsonEncodingException;
import com.squareup.moshi.JsonReader;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.ProtocolHeaders;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.AgentTransportConfig;
import dev.invertingproxy.spi.CancelSignal;
import dev.invertingproxy.spi.ProxyCallException;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.Authenticator;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.CookieJar;
import okhttp3.Dispatcher;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import org.jspecify.annotations.Nullable;

/**
 * An {@link AgentTransport} on OkHttp 5: the agent's calls to the proxy ({@code agent/pending},
 * {@code agent/request}, {@code agent/response}) and its forwarder to the private backend.
 *
 * <p>Two clients are derived from one base client (sharing its dispatcher):
 *
 * <ul>
 *   <li>the <b>proxy client</b> (the base's connection pool) never follows redirects, sends a
 *       poll or read (GET) again when its connection failed before the answer's head (such as a
 *       pooled connection the proxy had closed), never a response post (its body streams once), has no call timeout and a read
 *       and write timeout of {@code pollTimeout + 5 s}; every call carries {@code X-Inverting-Proxy-Backend-ID} and
 *       the headers of {@link AgentTransportConfig#proxyHeaders()}, asked for per call;
 *   <li>the <b>backend client</b> speaks HTTP/1.1 only, directly (no proxy), never follows
 *       redirects, has no cookie jar, no cache, no authenticator, none of the base client's
 *       interceptors, no call timeout unless {@link AgentTransportConfig#backendTotalTimeout()}
 *       is set, and {@link AgentTransportConfig#backendIdleTimeout()} as its read and write
 *       timeout. It sends the request's headers exactly as given (order, case, {@code Host}),
 *       adding nothing but the framing header, and returns the response head and raw body exactly
 *       as received. Its connections have their own pool, idle ones closed after {@link
 *       AgentTransportConfig#backendKeepAlive()}. It retries only a request that may be sent
 *       twice (no body; GET, HEAD, OPTIONS, TRACE or an {@code Idempotency-Key}), and only when
 *       the connection failed before any response: a pooled connection the backend had closed.
 * </ul>
 *
 * <p>Known limits of the backend request line: OkHttp's {@link HttpUrl} normalizes some targets
 * before sending them: dot segments ({@code /a/../b}) are removed (never met in use: {@code
 * DefaultAgentLoop} refuses such targets before forwarding, see {@code RequestTargets}), and
 * characters that are not valid in a URL (space, {@code "}, {@code <}, {@code >}, {@code ^}, {@code `}, <code>{</code>,
 * <code>|</code>, <code>}</code> and non-ASCII in the path; {@code '} and those in the query) are
 * percent-encoded; a backslash becomes a slash. Valid targets, including percent-encoded ones such
 * as {@code /a%2Fb?q=%20x}, are sent byte for byte.
 *
 * <p>Header text: {@link Headers} hold byte strings (one char per byte, as core's codec reads and
 * writes them) while OkHttp reads and writes header lines as UTF-8. Non-ASCII values that are valid
 * UTF-8 cross this transport byte for byte in both directions; a request value that is not valid
 * UTF-8 (a lone obs-text byte) is sent as the UTF-8 encoding of its ISO-8859-1 characters, and such
 * a response value arrives with OkHttp's replacement character (EF BF BD).
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class OkHttpAgentTransport implements AgentTransport {
  private static final Logger LOG = System.getLogger(OkHttpAgentTransport.class.getName());

  static final String BACKEND_ID = "X-Inverting-Proxy-Backend-ID";
  static final String REQUEST_ID = "X-Inverting-Proxy-Request-ID";

  /** The most bytes read from an {@code agent/pending} body. */
  static final int PENDING_LIMIT = 1024 * 1024;

  private static final int ERROR_BODY_CHARS = 200;
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration READ_MARGIN = Duration.ofSeconds(5);
  private static final String CONTENT_LENGTH = "Content-Length";
  private static final String TRANSFER_ENCODING = "Transfer-Encoding";

  private final AgentTransportConfig config;
  private final OkHttpClient proxyClient;

  /**
   * The proxy client for polls and reads (GET), with OkHttp's retry on connection failures: a
   * poll whose connection fails before its answer's head (a pooled connection the proxy or a load
   * balancer closed after idling, or a node that restarted mid-poll) is sent again at once, on
   * another connection; a 408 is repeated once. Safe: the proxy offers again what a lost poll
   * held, and gives back a claim whose answer could not be written.
   */
  private final OkHttpClient proxyPollClient;
  private final OkHttpClient backendClient;

  /**
   * The backend client for requests that may be sent twice (see {@link #replayable}): OkHttp sends
   * them again on another connection when a pooled one turns out closed by the backend (every
   * server closes idle keep-alive connections: a request can cross the close). Same pool and
   * dispatcher as {@link #backendClient}.
   */
  private final OkHttpClient replayingBackendClient;
  private final @Nullable OkHttpClient ownedBase;
  private final HttpUrl pendingUrl;
  private final HttpUrl requestUrl;
  private final HttpUrl responseUrl;
  private final String backendOrigin;
  private final String backendAuthority;
  private final Set<Call> calls = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final HttpUrl cancelledUrl;
  private final HttpUrl nextUrl;
  private final HttpUrl leaveUrl;
  private volatile Set<String> proxyCapabilities = Set.of();

  private OkHttpAgentTransport(
      AgentTransportConfig config, OkHttpClient base, @Nullable OkHttpClient ownedBase) {
    this.config = config;
    this.ownedBase = ownedBase;

    HttpUrl proxy = httpUrl(config.proxy().toString(), "proxy");
    this.pendingUrl = resolve(proxy, "agent/pending");
    this.cancelledUrl = resolve(proxy, "agent/cancelled");
    this.nextUrl = resolve(proxy, "agent/next");
    this.leaveUrl = resolve(proxy, "agent/leave");
    this.requestUrl = resolve(proxy, "agent/request");
    this.responseUrl = resolve(proxy, "agent/response");

    HttpUrl backend = httpUrl(config.backend().toString(), "backend");
    String origin =
        backend
            .newBuilder()
            .username("")
            .password("")
            .encodedPath("/")
            .query(null)
            .fragment(null)
            .build()
            .toString();
    this.backendOrigin = origin.substring(0, origin.length() - 1); // http://host[:port]
    this.backendAuthority = backendOrigin.substring(backendOrigin.indexOf("://") + 3);

    Duration longPoll = config.pollTimeout().plus(READ_MARGIN);
    this.proxyClient =
        base.newBuilder()
            .followRedirects(false)
            .followSslRedirects(false)
            .retryOnConnectionFailure(false)
            .callTimeout(Duration.ZERO)
            .connectTimeout(CONNECT_TIMEOUT)
            .readTimeout(longPoll)
            .writeTimeout(longPoll)
            .cache(null)
            .build();
    this.proxyPollClient = proxyClient.newBuilder().retryOnConnectionFailure(true).build();

    OkHttpClient.Builder backendBuilder =
        base.newBuilder()
            .followRedirects(false)
            .followSslRedirects(false)
            .retryOnConnectionFailure(false)
            .callTimeout(config.backendTotalTimeout()) // off by default: flowing streams go on
            .readTimeout(config.backendIdleTimeout()) // silence, not length, is bounded
            .writeTimeout(config.backendIdleTimeout())
            .connectionPool(backendPool(config))
            .protocols(List.of(Protocol.HTTP_1_1))
            .proxy(Proxy.NO_PROXY)
            .cookieJar(CookieJar.NO_COOKIES)
            .authenticator(Authenticator.NONE)
            .cache(null);
    // The base's interceptors are meant for the proxy (credentials, logging): keep them off the
    // backend's requests, and make ours the last network interceptor.
    backendBuilder.interceptors().clear();
    backendBuilder.networkInterceptors().clear();
    backendBuilder.addNetworkInterceptor(new ExactRequestInterceptor());
    this.backendClient = backendBuilder.build();
    this.replayingBackendClient = backendClient.newBuilder().retryOnConnectionFailure(true).build();
  }

  /**
   * The backend's connections have their own pool: idle ones are closed after {@link
   * AgentTransportConfig#backendKeepAlive()}, before the backend closes them under a request.
   * (OkHttp checks an idle connection before reuse only for requests other than GET, and only
   * after 10 s idle.)
   */
  private static ConnectionPool backendPool(AgentTransportConfig config) {
    long keepAlive = config.backendKeepAlive().toNanos();
    if (keepAlive == 0) {
      return new ConnectionPool(0, 1, TimeUnit.NANOSECONDS); // closed as soon as idle
    }
    return new ConnectionPool(config.maxInFlight(), keepAlive, TimeUnit.NANOSECONDS);
  }

  /**
   * Creates a transport with its own {@link OkHttpClient} (dispatcher and connection pool sized for
   * {@link AgentTransportConfig#maxInFlight()}), shut down by {@link #close()}.
   *
   * @throws IllegalArgumentException if the proxy or backend URL is not an http(s) URL
   */
  public static OkHttpAgentTransport create(AgentTransportConfig config) {
    Objects.requireNonNull(config, "config");
    int slots = config.maxInFlight() * 3 + 4; // per request: a read, a post, a backend call; polls
    Dispatcher dispatcher = new Dispatcher();
    dispatcher.setMaxRequests(slots);
    dispatcher.setMaxRequestsPerHost(slots);
    OkHttpClient base =
        new OkHttpClient.Builder()
            .dispatcher(dispatcher)
            .connectionPool(new ConnectionPool(slots, 5, TimeUnit.MINUTES))
            // A message's last small write (a chunked body's terminator) must not wait for the
            // peer's delayed ACK (Nagle): that costs ~40 ms per relayed response.
            .socketFactory(NoDelaySocketFactory.INSTANCE)
            .build();
    try {
      return new OkHttpAgentTransport(config, base, base);
    } catch (RuntimeException e) {
      dispatcher.executorService().shutdown();
      base.connectionPool().evictAll();
      throw e;
    }
  }

  /**
   * Creates a transport whose clients derive from {@code base} with {@link
   * OkHttpClient#newBuilder()}, so they share its dispatcher and TLS settings, and the proxy
   * client its connection pool (the backend's connections have a pool of their own, closed by
   * {@link #close()}). The caller owns {@code base}: {@link #close()} cancels this transport's
   * calls but neither shuts down the dispatcher nor evicts the base's pool. {@code base}'s
   * interceptors apply to calls to the proxy, not to the backend.
   *
   * @throws IllegalArgumentException if the proxy or backend URL is not an http(s) URL
   */
  public static OkHttpAgentTransport create(AgentTransportConfig config, OkHttpClient base) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(base, "base");
    return new OkHttpAgentTransport(config, base, null);
  }

  /** Returns the configuration this transport was created with. */
  public AgentTransportConfig config() {
    return config;
  }

  // ---------------------------------------------------------------------------------------------
  // Calls to the proxy

  @Override
  public List<String> listPending(String backendId) throws IOException {
    return listPending(backendId, new CancelSignal());
  }

  @Override
  public List<String> listPending(String backendId, CancelSignal cancel) throws IOException {
    Request request = proxyRequest(pendingUrl, backendId, null).get().build();
    long start = System.nanoTime();
    Call call = newCall(proxyPollClient, request);
    cancel.onCancel(call::cancel);
    try (Response response = call.execute()) {
      requireOk(response, "GET agent/pending");
      proxyCapabilities = capabilities(response.header(ProtocolHeaders.CAPABILITIES));
      List<String> ids = parsePending(readLimited(response.body().source(), PENDING_LIMIT));
      LOG.log(
          Level.DEBUG,
          () ->
              "GET agent/pending backend="
                  + backendId
                  + ": "
                  + ids.size()
                  + " ids in "
                  + millisSince(start)
                  + " ms");
      return ids;
    } catch (IOException e) {
      logFailure("GET agent/pending", backendId, null, e);
      throw e;
    } finally {
      calls.remove(call);
    }
  }

  @Override
  public Set<String> proxyCapabilities() {
    return proxyCapabilities;
  }

  @Override
  public List<String> listCancelled(String backendId) throws IOException {
    Request request = proxyRequest(cancelledUrl, backendId, null).get().build();
    Call call = newCall(proxyPollClient, request);
    try (Response response = call.execute()) {
      requireOk(response, "GET agent/cancelled");
      return parsePending(readLimited(response.body().source(), PENDING_LIMIT));
    } catch (IOException e) {
      logFailure("GET agent/cancelled", backendId, null, e);
      throw e;
    } finally {
      calls.remove(call);
    }
  }

  /** The longest a goodbye may take: it runs while the agent stops. */
  private static final Duration LEAVE_TIMEOUT = Duration.ofSeconds(5);

  @Override
  public void leave(String backendId) throws IOException {
    Request request =
        proxyRequest(leaveUrl, backendId, null)
            .post(okhttp3.RequestBody.create(new byte[0], null))
            .build();
    Call call = newCall(proxyClient.newBuilder().callTimeout(LEAVE_TIMEOUT).build(), request);
    try (Response response = call.execute()) {
      if (response.code() != 204) {
        // Only this project's proxy answers 204; anything else is not a goodbye taken.
        throw new ProxyCallException(
            response.code(), "POST agent/leave: the proxy answered " + response.code() + ", not 204");
      }
    } catch (IOException e) {
      logFailure("POST agent/leave", backendId, null, e);
      throw e;
    } finally {
      calls.remove(call);
    }
  }

  private static Set<String> capabilities(@Nullable String header) {
    if (header == null || header.isBlank()) {
      return Set.of();
    }
    Set<String> capabilities = new java.util.HashSet<>();
    for (String token : header.split(",")) {
      if (!token.isBlank()) {
        capabilities.add(token.trim().toLowerCase(java.util.Locale.ROOT));
      }
    }
    return Set.copyOf(capabilities);
  }

  @Override
  public WireMessage readRequest(String backendId, String requestId) throws IOException {
    Request request = proxyRequest(requestUrl, backendId, requestId).get().build();
    WireMessage read = openRequest(newCall(proxyPollClient, request), "GET agent/request", backendId, requestId);
    return Objects.requireNonNull(read, "a read is never empty");
  }

  @Override
  public @Nullable WireMessage nextRequest(String backendId, CancelSignal cancel)
      throws IOException {
    Request request = proxyRequest(nextUrl, backendId, null).get().build();
    Call call = newCall(proxyPollClient, request);
    cancel.onCancel(call::cancel);
    return openRequest(call, "GET agent/next", backendId, null);
  }

  /**
   * Runs a call answered with a parked request (a read, or a next poll that may answer 204 with
   * none), and returns the request streaming; the caller closes it.
   */
  private @Nullable WireMessage openRequest(
      Call call, String what, String backendId, @Nullable String requestId) throws IOException {
    long start = System.nanoTime();
    Response response = null;
    try {
      response = call.execute();
      if (requestId == null) {
        if (response.isSuccessful()) { // an error answer (429, 503) says nothing of the proxy
          proxyCapabilities = capabilities(response.header(ProtocolHeaders.CAPABILITIES));
        }
        if (response.code() == 204) {
          response.close();
          calls.remove(call);
          return null;
        }
      }
      requireOk(response, what);
      Headers headers = OkHeaders.toApi(response.headers());
      Response open = response;
      InputStream body =
          new ResponseStream(
              response.body().byteStream(),
              () -> {
                try {
                  open.close();
                } finally {
                  calls.remove(call);
                }
              });
      LOG.log(
          Level.DEBUG,
          () ->
              what
                  + " backend="
                  + backendId
                  + " request="
                  + headers.first(ProtocolHeaders.REQUEST_ID).orElse("?")
                  + ": 200 in "
                  + millisSince(start)
                  + " ms");
      return new WireMessage(headers, body);
    } catch (IOException | RuntimeException e) {
      if (response != null) {
        response.close();
      }
      calls.remove(call);
      logFailure(what, backendId, requestId, e);
      throw e;
    }
  }

  @Override
  public void postResponse(String backendId, String requestId, BodyWriter writer)
      throws IOException {
    Objects.requireNonNull(writer, "writer");
    Request request =
        proxyRequest(responseUrl, backendId, requestId).post(new WriterRequestBody(writer)).build();
    long start = System.nanoTime();
    Call call = newCall(proxyClient, request);
    try (Response response = call.execute()) {
      requireOk(response, "POST agent/response");
      drain(response.body());
      LOG.log(
          Level.DEBUG,
          () ->
              "POST agent/response backend="
                  + backendId
                  + " request="
                  + requestId
                  + ": 200 in "
                  + millisSince(start)
                  + " ms");
    } catch (IOException e) {
      logFailure("POST agent/response", backendId, requestId, e);
      throw e;
    } finally {
      calls.remove(call);
    }
  }

  private Request.Builder proxyRequest(HttpUrl url, String backendId, @Nullable String requestId)
      throws IOException {
    Objects.requireNonNull(backendId, "backendId");
    Headers extra;
    try {
      extra = config.proxyHeaders().get();
    } catch (RuntimeException e) {
      throw new IOException("the proxy headers could not be obtained: " + e, e);
    }
    okhttp3.Headers.Builder headers = new okhttp3.Headers.Builder();
    if (extra != null) {
      for (Header header : extra.fields()) {
        OkHeaders.addExact(headers, header.name(), header.value());
      }
    }
    headers.set(BACKEND_ID, backendId);
    if (requestId != null) {
      headers.set(REQUEST_ID, requestId);
    }
    return new Request.Builder().url(url).headers(headers.build());
  }

  private static void requireOk(Response response, String what) throws IOException {
    if (response.code() != 200) {
      String body = errorBody(response.body());
      throw new ProxyCallException(
          response.code(),
          what
              + ": the proxy answered "
              + response.code()
              + (response.message().isEmpty() ? "" : " " + response.message())
              + (body.isEmpty() ? "" : ": " + body));
    }
  }

  /** Returns up to 200 printable characters of an error body, best effort. */
  private static String errorBody(ResponseBody body) {
    try {
      BufferedSource source = body.source();
      Buffer buffer = new Buffer();
      long max = ERROR_BODY_CHARS * 4L; // UTF-8: at most 4 bytes per character
      while (buffer.size() < max) {
        if (source.read(buffer, max - buffer.size()) == -1) {
          break;
        }
      }
      String text = buffer.readString(StandardCharsets.UTF_8).strip();
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

  /** Reads a whole body into memory, refusing one over {@code limit} bytes. */
  private static Buffer readLimited(BufferedSource source, long limit) throws IOException {
    Buffer buffer = new Buffer();
    while (buffer.size() <= limit) {
      if (source.read(buffer, limit + 1 - buffer.size()) == -1) {
        return buffer;
      }
    }
    throw new IOException("agent/pending: the proxy's answer exceeds " + limit + " bytes");
  }

  /**
   * Parses an {@code agent/pending} body: empty or whitespace, or JSON {@code null}, mean no IDs;
   * otherwise it must be a JSON array of strings.
   */
  static List<String> parsePending(Buffer body) throws IOException {
    if (isBlank(body)) {
      return List.of();
    }
    try (JsonReader reader = JsonReader.of(body)) {
      JsonReader.Token token = reader.peek();
      List<String> ids;
      if (token == JsonReader.Token.NULL) {
        reader.nextNull();
        ids = List.of();
      } else if (token == JsonReader.Token.BEGIN_ARRAY) {
        ids = new ArrayList<>();
        reader.beginArray();
        while (reader.hasNext()) {
          if (reader.peek() != JsonReader.Token.STRING) {
            throw new IOException(
                "agent/pending: expected a JSON array of strings, found "
                    + reader.peek()
                    + " at "
                    + reader.getPath());
          }
          ids.add(reader.nextString());
        }
        reader.endArray();
      } else {
        throw new IOException(
            "agent/pending: expected a JSON array of strings or null, found " + token);
      }
      if (reader.peek() != JsonReader.Token.END_DOCUMENT) {
        throw new IOException("agent/pending: unexpected data after the JSON value");
      }
      return ids.isEmpty() ? List.of() : List.copyOf(ids);
    } catch (JsonDataException | JsonEncodingException | EOFException e) {
      throw new IOException("agent/pending: malformed JSON: " + e.getMessage(), e);
    }
  }

  private static boolean isBlank(Buffer body) {
    for (long i = 0; i < body.size(); i++) {
      byte b = body.getByte(i);
      if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
        return false;
      }
    }
    return true;
  }

  private static void drain(ResponseBody body) {
    try {
      // Not skip(Long.MAX_VALUE): it ends with an EOFException, a stack trace per response.
      BufferedSource source = body.source();
      Buffer sink = new Buffer();
      while (source.read(sink, 8192) != -1) {
        sink.clear();
      }
    } catch (IOException e) {
      // the response was already judged by its status; a broken tail does not change it
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The backend

  /**
   * {@inheritDoc}
   *
   * <p>The URL is the backend's scheme, host and port followed by {@code head.target()} (origin
   * form; an absolute-form target contributes its path and query). Headers are sent exactly as in
   * {@code head.headers()}; the framing header follows {@code body}: a length of 0 or more gives
   * {@code Content-Length}, -1 gives {@code Transfer-Encoding: chunked}, at the position of the
   * original framing header if there was one. Two exceptions keep the message valid: a body of
   * length 0 without an original framing header is sent without one (a request without framing has
   * no body), and a request without {@code Host} gets the backend's authority as {@code Host}.
   *
   * <p>{@code GET} and {@code HEAD}: OkHttp cannot send a body with them. An empty body (length 0,
   * or -1 and immediately at its end) is sent as no body, with {@code Content-Length: 0} in place
   * of an original framing header; a non-empty body fails with an {@link IOException} rather than
   * being dropped silently.
   *
   * @throws IOException if the backend cannot be reached, the request cannot be expressed (see
   *     above), or the transport is closed
   */
  @Override
  public BackendResponse forward(RequestHead head, MessageBody body) throws IOException {
    return forward(head, body, new CancelSignal());
  }

  /** Forwards; {@code cancel} aborts the backend call, before or after the response head. */
  @Override
  public BackendResponse forward(RequestHead head, MessageBody body, CancelSignal cancel)
      throws IOException {
    Objects.requireNonNull(head, "head");
    Objects.requireNonNull(body, "body");
    String method = head.method();
    HttpUrl url = backendUrl(head.target());
    long length = body.contentLength();
    Headers original = head.headers();
    boolean hadFraming = original.contains(CONTENT_LENGTH) || original.contains(TRANSFER_ENCODING);

    RequestBody requestBody;
    String framingName;
    String framingValue;
    boolean replayable = replayable(method, original, length);
    if (method.equals("GET") || method.equals("HEAD")) {
      if (length > 0 || (length == -1 && !isAtEnd(body))) {
        throw new IOException(
            "cannot forward a " + method + " request with a body: OkHttp does not send one");
      }
      requestBody = null;
      framingName = hadFraming ? CONTENT_LENGTH : null;
      framingValue = "0";
    } else {
      // An empty body OkHttp may send again (a streaming body is one-shot: never sent twice).
      requestBody =
          replayable ? RequestBody.create(new byte[0]) : new StreamingRequestBody(body.stream(), length);
      if (length == 0 && !hadFraming) {
        framingName = null;
        framingValue = "";
      } else if (length >= 0) {
        framingName = CONTENT_LENGTH;
        framingValue = Long.toString(length);
      } else {
        framingName = TRANSFER_ENCODING;
        framingValue = "chunked";
      }
    }

    okhttp3.Headers networkHeaders = networkHeaders(original, framingName, framingValue);
    ExactRequestInterceptor.ForwardTag tag = new ExactRequestInterceptor.ForwardTag(networkHeaders);
    Request request;
    try {
      request =
          new Request.Builder()
              .url(url)
              .method(method, requestBody)
              // Any Accept-Encoding turns off OkHttp's transparent gzip; the network interceptor
              // replaces the headers with the exact list, so this placeholder is never sent.
              .header("Accept-Encoding", "identity")
              .tag(ExactRequestInterceptor.ForwardTag.class, tag)
              .build();
    } catch (IllegalArgumentException e) {
      throw new IOException("cannot forward method " + OkHeaders.printable(method), e);
    }

    long start = System.nanoTime();
    Call call = newCall(replayable ? replayingBackendClient : backendClient, request);
    cancel.onCancel(call::cancel);
    Response response;
    try {
      response = call.execute();
    } catch (IOException | RuntimeException e) {
      calls.remove(call);
      LOG.log(
          Level.DEBUG,
          () ->
              "forward "
                  + method
                  + " "
                  + url.encodedPath()
                  + " failed after "
                  + millisSince(start)
                  + " ms: "
                  + e);
      throw e;
    }
    ResponseHead responseHead;
    try {
      responseHead = responseHead(tag, response);
    } catch (RuntimeException e) {
      response.close();
      calls.remove(call);
      throw new IOException("invalid response from the backend: " + e.getMessage(), e);
    }
    LOG.log(
        Level.DEBUG,
        () ->
            "forward "
                + method
                + " "
                + url.encodedPath()
                + ": "
                + responseHead.status()
                + " in "
                + millisSince(start)
                + " ms");
    return new OkHttpBackendResponse(call, response, responseHead, () -> calls.remove(call));
  }

  /**
   * Whether a request may reach the backend twice, by Go's {@code net/http} rule: no body, and a
   * safe method (GET, HEAD, OPTIONS, TRACE) or an {@code Idempotency-Key} / {@code
   * X-Idempotency-Key} header. Only such a request is sent again when its connection fails before
   * any response; any other gets the failure (the proxy answers 502), since the backend may have
   * acted on it.
   */
  static boolean replayable(String method, Headers headers, long contentLength) {
    if (contentLength != 0) {
      return false;
    }
    return switch (method) {
      case "GET", "HEAD", "OPTIONS", "TRACE" -> true;
      default -> headers.contains("Idempotency-Key") || headers.contains("X-Idempotency-Key");
    };
  }

  /** Returns the backend URL for a raw request target. */
  HttpUrl backendUrl(String target) throws IOException {
    String pathAndQuery;
    if (target.startsWith("/")) {
      pathAndQuery = target;
    } else if (target.regionMatches(true, 0, "http://", 0, 7)
        || target.regionMatches(true, 0, "https://", 0, 8)) {
      int authority = target.indexOf("://") + 3;
      int end = authority;
      while (end < target.length() && "/?#".indexOf(target.charAt(end)) < 0) {
        end++;
      }
      String rest = target.substring(end);
      pathAndQuery = rest.startsWith("/") ? rest : "/" + rest;
    } else {
      throw new IOException(
          "cannot forward request target " + OkHeaders.printable(target) + ": not origin form");
    }
    HttpUrl url = HttpUrl.parse(backendOrigin + pathAndQuery);
    if (url == null) {
      throw new IOException("cannot forward request target " + OkHeaders.printable(target));
    }
    if (LOG.isLoggable(Level.DEBUG)) {
      String sent =
          url.encodedPath() + (url.encodedQuery() == null ? "" : "?" + url.encodedQuery());
      if (!sent.equals(pathAndQuery)) {
        LOG.log(
            Level.DEBUG, "request target normalized by OkHttp; path sent: " + url.encodedPath());
      }
    }
    return url;
  }

  /** Builds the header list sent to the backend: the original, with the framing header replaced. */
  private okhttp3.Headers networkHeaders(
      Headers original, @Nullable String framingName, String framingValue) throws IOException {
    okhttp3.Headers.Builder builder = new okhttp3.Headers.Builder();
    if (!original.contains("Host")) {
      builder.add("Host", backendAuthority);
    }
    boolean framingWritten = false;
    for (Header header : original.fields()) {
      if (header.is(CONTENT_LENGTH) || header.is(TRANSFER_ENCODING)) {
        if (!framingWritten && framingName != null) {
          // Keep the original name's case when it names the same framing.
          String name = header.is(framingName) ? header.name() : framingName;
          builder.add(name, framingValue);
          framingWritten = true;
        }
        continue;
      }
      OkHeaders.addExact(builder, header.name(), header.value());
    }
    if (!framingWritten && framingName != null) {
      builder.add(framingName, framingValue);
    }
    return builder.build();
  }

  private static ResponseHead responseHead(
      ExactRequestInterceptor.ForwardTag tag, Response response) {
    okhttp3.Headers headers = tag.responseHeaders();
    Protocol protocol = tag.protocol();
    int code = tag.code();
    String message = tag.message();
    if (headers == null || protocol == null || code == 0) {
      headers = response.headers();
      protocol = response.protocol();
      code = response.code();
      message = response.message();
    }
    String version = protocol == Protocol.HTTP_1_0 ? "HTTP/1.0" : "HTTP/1.1";
    return new ResponseHead(
        version, code, OkHeaders.toByteString(message), OkHeaders.toApi(headers));
  }

  /** Returns true if a body of unknown length is already at its end (peeks one byte). */
  private static boolean isAtEnd(MessageBody body) throws IOException {
    InputStream in = body.stream();
    if (in.markSupported()) {
      in.mark(1);
      int b = in.read();
      in.reset();
      return b == -1;
    }
    if (in instanceof PushbackInputStream pushback) {
      int b = pushback.read();
      if (b == -1) {
        return true;
      }
      pushback.unread(b);
      return false;
    }
    // Cannot look ahead without losing the byte: a non-empty body fails the call anyway.
    return in.read() == -1;
  }

  // ---------------------------------------------------------------------------------------------
  // Life cycle

  /**
   * Cancels this transport's calls in flight (a blocked long poll ends at once) and, if this
   * transport created its own client, shuts down its dispatcher and evicts its connection pool. A
   * caller-owned base client is left running. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (Call call : calls) {
      call.cancel();
    }
    calls.clear();
    if (ownedBase != null) {
      ownedBase.dispatcher().executorService().shutdown();
      ownedBase.connectionPool().evictAll();
    }
    backendClient.connectionPool().evictAll();
    LOG.log(Level.DEBUG, "transport closed");
  }

  /** Returns true once {@link #close()} was called. */
  public boolean isClosed() {
    return closed.get();
  }

  @Override
  public String toString() {
    return "OkHttpAgentTransport[proxy=" + pendingUrl.redact() + ", backend=" + backendOrigin + "]";
  }

  /** Visible for tests: the client used for calls to the proxy. */
  OkHttpClient proxyClient() {
    return proxyClient;
  }

  /** Visible for tests: the client used for calls to the backend. */
  OkHttpClient backendClient() {
    return backendClient;
  }

  private Call newCall(OkHttpClient client, Request request) throws IOException {
    if (closed.get()) {
      throw new IOException("transport is closed");
    }
    Call call = client.newCall(request);
    calls.add(call);
    if (closed.get()) { // close() ran meanwhile and may have missed this call
      calls.remove(call);
      call.cancel();
      throw new IOException("transport is closed");
    }
    return call;
  }

  private static void logFailure(
      String what, String backendId, @Nullable String requestId, Exception e) {
    LOG.log(
        Level.DEBUG,
        () ->
            what
                + " backend="
                + backendId
                + (requestId == null ? "" : " request=" + requestId)
                + " failed: "
                + e);
  }

  private static long millisSince(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }

  private static HttpUrl httpUrl(String url, String what) {
    HttpUrl parsed = HttpUrl.parse(url);
    if (parsed == null) {
      throw new IllegalArgumentException(what + " must be an http or https URL");
    }
    return parsed;
  }

  private static HttpUrl resolve(HttpUrl base, String relative) {
    HttpUrl url = base.resolve(relative);
    if (url == null) {
      throw new IllegalArgumentException("cannot resolve " + relative + " against the proxy URL");
    }
    return url;
  }
}
