package dev.invertingproxy.core;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.AgentLoop;
import dev.invertingproxy.Headers;
import dev.invertingproxy.core.internal.RequestIds;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.spi.AgentTransport;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The stock {@link AgentLoop}: one thread long-polls the proxy; each pending request runs on a
 * worker (at most {@code maxInFlight} at once; polling pauses while all are busy, so the proxy
 * keeps the rest for other agents). Against a proxy that announces the extension {@code
 * next-request}, the workers poll themselves and each poll answers with a request (one call
 * instead of a list and a read; as many polls open as there are idle workers under load, one
 * when idle). A worker claims the request, forwards it to the backend and
 * streams the backend's response back while the backend produces it. A backend that cannot be
 * reached is answered with a 502 that says why. Errors of the poll back off exponentially with
 * full jitter, up to a cap.
 *
 * <p>Its parts, one role each: {@link PollModes} (which poll mode, {@link ListPolling} or {@link
 * NextPolling}), {@link RequestRelay} (one request), {@link CancelNotices} (clients that left),
 * {@link ProxyConnection} (state, back-off), {@link AgentWorkers} (capacity, drain), all speaking
 * the protocol through one {@link ProxyClient}. This class owns their lifecycle and the builder.
 *
 * <p>It owns its poll thread and workers (named daemon threads) and, unless one was given, its
 * transport; {@link #close()} drains in-flight requests within a bound, then releases them.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class DefaultAgentLoop implements AgentLoop {
  private static final System.Logger LOGGER = System.getLogger(DefaultAgentLoop.class.getName());

  private final AgentConfig config;
  private final AgentTransport transport;
  private final boolean ownsTransport;
  /** This agent's own ID, sent on every call, so the proxy can tell agents apart and let it leave. */
  private final String agentId = RequestIds.next();
  private final ProxyClient client;
  private final ProxyConnection connection;
  private final AgentWorkers workers;
  private final CancelNotices notices;
  private final PollModes modes;
  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
  /** The backend as logs and answers name it: its URL, unless a ready-made transport reaches it. */
  private final String backendName;

  private DefaultAgentLoop(
      AgentConfig config,
      AgentTransport transport,
      boolean ownsTransport,
      @Nullable String viaReadyMade) {
    this.config = config;
    String proxyForLog = viaReadyMade != null ? viaReadyMade : config.proxyUrl().toString();
    this.backendName = viaReadyMade != null ? viaReadyMade : config.backendUrl().toString();
    this.ownsTransport = ownsTransport;
    this.transport = transport;
    this.client = new ProxyClient(transport, config.backendId(), agentId, config.proxyHeaders());
    this.connection =
        new ProxyConnection(proxyForLog, config.backendId(), config.backoffBase(), config.backoffCap());
    this.workers = new AgentWorkers(config.maxInFlight());
    this.notices = new CancelNotices(client, connection, workers, this::running);
    RequestRelay relay =
        new RequestRelay(
            client,
            transport,
            notices,
            backendName,
            config.forwardUserId(),
            config.maxHeadBytes(),
            this::running);
    this.modes =
        new PollModes(
            new ListPolling(client, connection, workers, relay, notices, this::running),
            new NextPolling(client, connection, workers, relay, this::running),
            workers,
            this::running);
  }

  /**
   * Creates an agent (not started) for {@code config}, with the transport found by {@link
   * java.util.ServiceLoader}.
   *
   * @throws dev.invertingproxy.ProviderNotFoundException if no transport was found
   */
  public static DefaultAgentLoop create(AgentConfig config) {
    return new DefaultAgentLoop(config, Providers.openAgentTransport(config), true, null);
  }

  /** Returns a new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the configuration this agent runs with. With a ready-made transport ({@link
   * Builder#transport(AgentTransport)}) its proxy and backend URLs are placeholders: the transport
   * has its own.
   */
  public AgentConfig config() {
    return config;
  }

  @Override
  public void start() {
    if (state.compareAndSet(State.NEW, State.RUNNING)) {
      LOGGER.log(
          Level.INFO,
          () ->
              "agent for backend "
                  + config.backendId()
                  + " started, forwarding to "
                  + backendName);
      modes.start();
    }
  }

  @Override
  public State state() {
    return state.get();
  }

  /**
   * Returns true if the last poll succeeded, or if the current one has been held open by the
   * proxy for a moment (a proxy that refuses a poll answers at once; one that accepts it holds it
   * for its long-poll time-out).
   */
  @Override
  public boolean isConnected() {
    return connection.isConnected(running());
  }

  @Override
  public int inFlight() {
    return workers.inFlight();
  }

  @Override
  public void close() {
    close(config.drainTimeout());
  }

  @Override
  public boolean close(Duration timeout) {
    State previous = state.getAndUpdate(s -> s == State.CLOSED ? s : State.DRAINING);
    if (previous == State.CLOSED || previous == State.DRAINING) {
      return workers.inFlight() == 0;
    }
    modes.stop();
    notices.stop();
    workers.wake();
    sayGoodbye();
    boolean drained = workers.awaitDrained(timeout);
    workers.shutdownNow();
    if (ownsTransport) {
      transport.close();
    }
    state.set(State.CLOSED);
    connection.stopped();
    LOGGER.log(
        Level.INFO,
        () ->
            "agent for backend "
                + config.backendId()
                + " closed"
                + (drained ? "" : " (requests aborted)"));
    return drained;
  }

  /**
   * Tells the proxy this agent stopped polling (extension {@code leave-notice}), so that, if no
   * other agent serves the backend, new requests get 503 at once rather than wait for a time-out.
   * Requests in flight are still answered. Said only to a proxy that announced the extension in
   * every answer so far ({@link ProxyConnection#mayLeave}). This project's proxy answers an agent's
   * first poll at once, so the capabilities are known within a round trip of the start. Best
   * effort: a failure only means the proxy notices at the end of the liveness window, as for an
   * agent that died.
   */
  private void sayGoodbye() {
    if (!connection.mayLeave()) {
      return;
    }
    try {
      client.leave();
      LOGGER.log(Level.DEBUG, () -> "told the proxy that agent " + agentId + " is going");
    } catch (Exception e) { // OkHttp may throw InterruptedException undeclared
      LOGGER.log(Level.DEBUG, () -> "could not tell the proxy that this agent is going: " + e);
    }
  }

  private boolean running() {
    return state.get() == State.RUNNING;
  }

  /** Sleeps before the next attempt; false if interrupted meanwhile (the agent stops). */
  static boolean pause(long millis) {
    try {
      Thread.sleep(millis);
      return true;
    } catch (InterruptedException interrupted) {
      return false;
    }
  }

  /**
   * Builds a {@link DefaultAgentLoop}: the options of {@link AgentConfig.Builder}, plus the
   * transport.
   *
   * <p>This class is not thread-safe.
   */
  public static final class Builder {
    private AgentConfig.Builder config = AgentConfig.builder();
    private boolean backendIdSet;
    private boolean proxySet;
    private @Nullable AgentTransport transport;
    private @Nullable Function<AgentConfig, ? extends AgentTransport> transportFactory;
    /** Options that configure the transport, set on this builder (checked against a given one). */
    private final List<String> transportOptions = new ArrayList<>();

    private Builder() {}

    /**
     * Starts from {@code config}: every option as it holds it, replacing any set before; options
     * set later replace its values. Its proxy and backend URLs configure the transport, so it
     * cannot be combined with a ready-made one ({@link #transport(AgentTransport)}); use {@link
     * #transport(Function)} to create the transport from it.
     */
    public Builder config(AgentConfig config) {
      this.config = config.toBuilder();
      backendIdSet = true;
      proxySet = true;
      transportOptions.add("config");
      return this;
    }

    /** The proxy's agent base URL, e.g. {@code https://proxy.example/}; required. */
    public Builder proxy(URI proxy) {
      config.proxyUrl(proxy);
      proxySet = true;
      transportOptions.add("proxy");
      return this;
    }

    /** The backend ID this agent serves; required. */
    public Builder backendId(String backendId) {
      config.backendId(backendId);
      backendIdSet = true;
      return this;
    }

    /** The private backend, {@code http://host:port}; default {@code http://localhost:8080}. */
    public Builder backendUrl(URI url) {
      config.backendUrl(url);
      transportOptions.add("backendUrl");
      return this;
    }

    /**
     * The private backend's URL.
     *
     * @deprecated named {@link #backendUrl(URI)} now, as in {@link AgentConfig} ({@code backend}
     *     is a backend ID everywhere else)
     */
    @Deprecated(since = "0.1")
    public Builder backend(URI backend) {
      return backendUrl(backend);
    }

    /**
     * Uses {@code transport}, ready-made, instead of the discovered one; the caller closes it.
     * The options that configure a transport ({@link #proxy}, {@link #backendUrl}, {@link
     * #pollTimeout}, the backend time-outs and keep-alive) are then the transport's own: setting
     * them here too fails {@link #build()} rather than be ignored. To have a transport created
     * from this agent's configuration, use {@link #transport(Function)}.
     */
    public Builder transport(AgentTransport transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      this.transportFactory = null;
      return this;
    }

    /**
     * Creates the transport from this agent's configuration with {@code factory} (for instance
     * {@code config -> OkHttpAgentTransport.create(config, myClient)}); the agent closes it.
     */
    public Builder transport(Function<AgentConfig, ? extends AgentTransport> factory) {
      this.transportFactory = Objects.requireNonNull(factory, "factory");
      this.transport = null;
      return this;
    }

    /** The agent side's bound on one long poll; default 60 s (above the proxy's 25 s). */
    public Builder pollTimeout(Duration timeout) {
      config.pollTimeout(timeout);
      transportOptions.add("pollTimeout");
      return this;
    }

    /** How many requests are forwarded at once; default 64. */
    public Builder maxInFlight(int max) {
      config.maxInFlight(max);
      return this;
    }

    /**
     * The longest the backend may stay silent during an exchange (no byte read or written) before
     * the agent gives up on it; {@link Duration#ZERO} for no limit; default 5 min. A response that
     * keeps producing bytes is never cut, however long it lasts.
     */
    public Builder backendIdleTimeout(Duration timeout) {
      config.backendIdleTimeout(timeout);
      transportOptions.add("backendIdleTimeout");
      return this;
    }

    /**
     * An optional bound on a whole exchange with the backend, body included: past it the backend
     * call is aborted (a 504 before the head, a cut response after). {@link Duration#ZERO}, the
     * default, means none.
     */
    public Builder backendTotalTimeout(Duration timeout) {
      config.backendTotalTimeout(timeout);
      transportOptions.add("backendTotalTimeout");
      return this;
    }

    /**
     * How long an idle connection to the backend is kept for the next request; {@link
     * Duration#ZERO} to use each once; default 1 s. Keep it below the backend's own idle time-out
     * (see {@link AgentConfig#backendKeepAlive()}).
     */
    public Builder backendKeepAlive(Duration keepAlive) {
      config.backendKeepAlive(keepAlive);
      transportOptions.add("backendKeepAlive");
      return this;
    }

    /** Poll error back-off: full jitter over base·2^n, capped; default 100 ms and 3 s. */
    public Builder backoff(Duration base, Duration cap) {
      config.backoff(base, cap);
      return this;
    }

    /** How long {@link #close()} waits for in-flight requests; default 30 s. */
    public Builder drainTimeout(Duration timeout) {
      config.drainTimeout(timeout);
      return this;
    }

    /**
     * Passes the proxy's {@code X-Inverting-Proxy-User-ID} on to the backend, replacing any such
     * header in the request; default off.
     */
    public Builder forwardUserId(boolean forward) {
      config.forwardUserId(forward);
      return this;
    }

    /**
     * Headers added to every call to the proxy (credentials), asked for per call; see {@link
     * AgentCredentials} for refreshing tokens and token files. Sent through any transport, an
     * injected one too.
     */
    public Builder proxyHeaders(Supplier<Headers> headers) {
      config.proxyHeaders(headers);
      return this;
    }

    /** Sends {@code Authorization: Bearer <token>} on every call to the proxy. */
    public Builder bearerToken(String token) {
      return proxyHeaders(AgentCredentials.bearer(token));
    }

    /** Maximum size of a parked request's head as read from the proxy; default 64 KiB. */
    public Builder maxHeadBytes(int bytes) {
      config.maxHeadBytes(bytes);
      return this;
    }

    /**
     * Builds the agent (not started).
     *
     * @throws IllegalStateException if the proxy or backend ID is missing, or transport options
     *     were set beside a ready-made transport
     * @throws dev.invertingproxy.ProviderNotFoundException if no transport was given or found
     */
    public DefaultAgentLoop build() {
      if (!backendIdSet) {
        throw new IllegalStateException("backendId is required");
      }
      if (transport != null) {
        if (!transportOptions.isEmpty()) {
          throw new IllegalStateException(
              "a ready-made transport was given, so these options would not reach it: "
                  + String.join(", ", new java.util.LinkedHashSet<>(transportOptions))
                  + "; set them where the transport is created, or pass transport(config -> ...)"
                  + " to create it from this configuration");
        }
        if (!proxySet) {
          config.proxyUrl(URI.create("http://unused/")); // the transport knows its proxy
        }
        return new DefaultAgentLoop(
            config.build(), transport, false, "(through the injected transport)");
      }
      if (!proxySet) {
        throw new IllegalStateException("proxy is required");
      }
      AgentConfig built = config.build();
      if (transportFactory != null) {
        AgentTransport created =
            Objects.requireNonNull(transportFactory.apply(built), "the transport factory returned null");
        return new DefaultAgentLoop(built, created, true, null);
      }
      return create(built);
    }
  }
}
