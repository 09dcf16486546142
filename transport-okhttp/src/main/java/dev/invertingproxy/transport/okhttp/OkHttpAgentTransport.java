package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * An {@link AgentTransport} on OkHttp 5: the agent's calls to the proxy and its forwarder to the
 * private backend ({@link BackendForwarder}). It moves bytes only; the agent protocol is core's,
 * and so are the headers of each call (credentials from {@link AgentConfig#proxyHeaders()}, the
 * backend and agent IDs): this transport reads the URLs, time-outs and sizes of its {@link
 * AgentConfig}, nothing else.
 *
 * <p>Two clients are derived from one base client (sharing its dispatcher):
 *
 * <ul>
 *   <li>the <b>proxy client</b> (the base's connection pool) never follows redirects, sends a
 *       {@code GET} again when its connection failed before the answer's head (such as a pooled
 *       connection the proxy had closed; a 408 is repeated once), never another method (a posted
 *       body streams once), has no call timeout unless the call asks for one, and a read and write
 *       timeout of {@link AgentConfig#pollTimeout()} plus 5 s;
 *   <li>the <b>backend client</b>: see {@link BackendForwarder}.
 * </ul>
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class OkHttpAgentTransport implements AgentTransport {
  private static final Logger LOG = System.getLogger(OkHttpAgentTransport.class.getName());
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration READ_MARGIN = Duration.ofSeconds(5);

  private final AgentConfig config;
  private final OkHttpClient proxyClient;

  /**
   * The proxy client for {@code GET}s (polls and reads), with OkHttp's retry on connection
   * failures: a poll whose connection fails before its answer's head (a pooled connection the
   * proxy or a load balancer closed after idling, or a node that restarted mid-poll) is sent again
   * at once, on another connection. Safe: the proxy offers again what a lost poll held, and gives
   * back a claim whose answer could not be written.
   */
  private final OkHttpClient proxyGetClient;

  private final BackendForwarder backend;
  private final CallTracker calls = new CallTracker();
  private final @Nullable OkHttpClient ownedBase;
  private final HttpUrl proxyUrl;

  private OkHttpAgentTransport(
      AgentConfig config, OkHttpClient base, @Nullable OkHttpClient ownedBase) {
    this.config = config;
    this.ownedBase = ownedBase;
    this.proxyUrl = httpUrl(config.proxyUrl().toString(), "proxy");
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
    this.proxyGetClient = proxyClient.newBuilder().retryOnConnectionFailure(true).build();
    this.backend = new BackendForwarder(config, base, calls);
  }

  /**
   * Creates a transport with its own {@link OkHttpClient} (dispatcher and connection pool sized for
   * {@link AgentConfig#maxInFlight()}), shut down by {@link #close()}.
   *
   * @throws IllegalArgumentException if the proxy or backend URL is not an http(s) URL
   */
  public static OkHttpAgentTransport create(AgentConfig config) {
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
   * interceptors apply to calls to the proxy, not to the backend. Pass it to the agent as {@code
   * DefaultAgentLoop.builder().transport(config -> OkHttpAgentTransport.create(config, base))}.
   *
   * @throws IllegalArgumentException if the proxy or backend URL is not an http(s) URL
   */
  public static OkHttpAgentTransport create(AgentConfig config, OkHttpClient base) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(base, "base");
    return new OkHttpAgentTransport(config, base, null);
  }

  /** Returns the configuration this transport was created with. */
  public AgentConfig config() {
    return config;
  }

  @Override
  public ProxyAnswer call(ProxyCall call, CancelSignal cancel) throws IOException {
    HttpUrl url = proxyUrl.resolve(call.path());
    if (url == null) {
      throw new IOException("cannot resolve " + call.path() + " against the proxy URL");
    }
    okhttp3.Headers.Builder headers = new okhttp3.Headers.Builder();
    for (Header header : call.headers().fields()) {
      OkHeaders.addExact(headers, header.name(), header.value());
    }
    RequestBody body =
        call.body() != null
            ? new WriterRequestBody(call.body())
            : call.method().equals("POST") ? RequestBody.create(new byte[0], null) : null;
    Request request;
    try {
      request = new Request.Builder().url(url).headers(headers.build()).method(call.method(), body).build();
    } catch (IllegalArgumentException e) {
      throw new IOException("cannot send " + call.method() + " " + call.path() + ": " + e.getMessage(), e);
    }
    OkHttpClient client = call.method().equals("GET") ? proxyGetClient : proxyClient;
    if (!call.timeout().isZero()) {
      client = client.newBuilder().callTimeout(call.timeout()).build();
    }
    Call okCall = calls.newCall(client, request);
    cancel.onCancel(okCall::cancel);
    Response response;
    try {
      response = okCall.execute();
    } catch (IOException | RuntimeException e) {
      calls.done(okCall);
      throw e;
    }
    return new Answer(okCall, response);
  }

  /** An answer streaming from OkHttp; closing it releases the connection. */
  private final class Answer implements ProxyAnswer {
    private final Response response;
    private final Headers headers;
    private final InputStream body;

    Answer(Call call, Response response) {
      this.response = response;
      this.headers = OkHeaders.toApi(response.headers());
      this.body =
          new ResponseStream(
              response.body().byteStream(),
              () -> {
                try {
                  response.close();
                } finally {
                  calls.done(call);
                }
              });
    }

    @Override
    public int status() {
      return response.code();
    }

    @Override
    public String message() {
      return response.message();
    }

    @Override
    public Headers headers() {
      return headers;
    }

    @Override
    public InputStream body() {
      return body;
    }

    @Override
    public void close() throws IOException {
      body.close();
    }
  }

  /** See {@link BackendForwarder#forward}. */
  @Override
  public BackendResponse forward(RequestHead head, MessageBody body) throws IOException {
    return backend.forward(head, body, new CancelSignal());
  }

  /** See {@link BackendForwarder#forward}; {@code cancel} aborts the backend call. */
  @Override
  public BackendResponse forward(RequestHead head, MessageBody body, CancelSignal cancel)
      throws IOException {
    return backend.forward(head, body, cancel);
  }

  /**
   * Cancels this transport's calls in flight (a blocked long poll ends at once) and, if this
   * transport created its own client, shuts down its dispatcher and evicts its connection pool. A
   * caller-owned base client is left running. Idempotent.
   */
  @Override
  public void close() {
    if (!calls.close()) {
      return;
    }
    if (ownedBase != null) {
      ownedBase.dispatcher().executorService().shutdown();
      ownedBase.connectionPool().evictAll();
    }
    backend.close();
    LOG.log(Level.DEBUG, "transport closed");
  }

  /** Returns true once {@link #close()} was called. */
  public boolean isClosed() {
    return calls.isClosed();
  }

  @Override
  public String toString() {
    return "OkHttpAgentTransport[proxy=" + proxyUrl.redact() + ", backend=" + backend.origin() + "]";
  }

  /** Visible for tests: the client used for calls to the proxy. */
  OkHttpClient proxyClient() {
    return proxyClient;
  }

  /** Visible for tests: the client used for calls to the backend. */
  OkHttpClient backendClient() {
    return backend.client();
  }

  /** Visible for tests: the forwarder. */
  BackendForwarder forwarder() {
    return backend;
  }

  static HttpUrl httpUrl(String url, String what) {
    HttpUrl parsed = HttpUrl.parse(url);
    if (parsed == null) {
      throw new IllegalArgumentException(what + " must be an http or https URL");
    }
    return parsed;
  }
}
