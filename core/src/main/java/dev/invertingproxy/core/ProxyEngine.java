package dev.invertingproxy.core;

import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.internal.Checks;
import dev.invertingproxy.core.spi.AgentCall;
import dev.invertingproxy.core.spi.AgentReadSink;
import dev.invertingproxy.core.spi.Cancellable;
import dev.invertingproxy.core.spi.NextRequest;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * The proxy side, container-neutral: what a transport (the servlet binding) calls for client
 * requests ({@link #handle}), for the three v1 agent calls ({@link #pending}, {@link
 * #readRequest}, {@link #postResponse}) and for the extensions ({@link #cancelled}, {@link
 * #next}). Waiting happens in the storage's futures and timers, never on a thread.
 *
 * <p>The engine is the facade and owns the lifecycle: it opens (or is given) the storage and the
 * timer, runs the sweep that reports silent agents as disconnected, follows the registry's news
 * of agents leaving, and answers every parked client when it closes. The work is done by two
 * package-private sides that it builds: the client side ({@code ClientRelay}: routing, header
 * hygiene, limits, parking, answering, time-outs) and the agent side ({@code AgentDesk}, with
 * {@code AgentAuthorization}: polls, claims, reads, posts, goodbyes).
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class ProxyEngine implements AutoCloseable {
  private static final System.Logger LOGGER = System.getLogger(ProxyEngine.class.getName());

  private final Storage storage;
  private final boolean ownsStorage;
  private final @Nullable Future<?> sweep;
  /** Stops the registry's calls about agents leaving (registered last in the constructor). */
  private final Runnable leaving;
  private final Duration longPollTimeout;
  private final Duration responseTimeout;
  private final int maxHeadBytes;
  /** The client side: routing, limits, parking, answering. */
  private final ClientRelay clients;
  /** The agent side: authorization, polls, claims, reads, posts, goodbyes. */
  private final AgentDesk agents;
  private final ScheduledExecutorService scheduler;
  private final boolean ownsScheduler;
  private final AtomicBoolean closed = new AtomicBoolean();

  private ProxyEngine(Builder builder) {
    this.ownsStorage = builder.storage == null;
    this.storage =
        builder.storage != null
            ? builder.storage
            : Providers.openStorage(builder.storageUri, StorageOptions.defaults());
    RequestBroker broker = storage.broker();
    BackendRegistry registry = storage.registry();
    AgentPresence presence = new AgentPresence(registry);
    List<ProxyListener> listeners = new ArrayList<>();
    listeners.add(LoggingProxyListener.create(builder.accessLog));
    listeners.addAll(builder.listeners);
    ProxyEvents events = new ProxyEvents(listeners);
    AgentSessions sessions = new AgentSessions(events);
    Duration livenessWindow = builder.longPollTimeout.plus(builder.livenessGrace);
    BackendResolver resolver;
    if (builder.routeByRegistry) {
      // Presence is recorded at most once per AgentPresence.RESOLUTION: allow that much slack.
      RegistryRouter router =
          RegistryRouter.of(registry, livenessWindow.plus(AgentPresence.RESOLUTION), builder.clock);
      BackendResolver fallback = builder.resolver;
      // Single-backend mode until the first record is registered, if a fallback was given.
      resolver =
          fallback == null
              ? router
              : client -> registry.list().isEmpty() ? fallback.resolve(client) : router.resolve(client);
    } else {
      resolver = Objects.requireNonNull(builder.resolver, "backendResolver or backend");
    }
    this.longPollTimeout = builder.longPollTimeout;
    this.responseTimeout = builder.responseTimeout;
    this.maxHeadBytes = builder.maxHeadBytes;
    Clock clock = builder.clock;
    this.ownsScheduler = builder.scheduler == null;
    this.scheduler =
        builder.scheduler != null
            ? builder.scheduler
            : Executors.newSingleThreadScheduledExecutor(
                runnable -> {
                  Thread thread = new Thread(runnable, "inverting-proxy-timer");
                  thread.setDaemon(true);
                  return thread;
                });
    this.clients =
        new ClientRelay(
            broker,
            presence,
            events,
            resolver,
            clock,
            scheduler,
            responseTimeout,
            livenessWindow,
            maxHeadBytes,
            builder.maxBodyBytes);
    this.agents =
        new AgentDesk(
            broker,
            presence,
            sessions,
            new AgentAuthorization(builder.authenticator, registry, events),
            clock,
            longPollTimeout,
            maxHeadBytes,
            builder.maxPollsPerBackend);
    long window = livenessWindow.toNanos();
    this.sweep =
        scheduler.scheduleWithFixedDelay(
            () -> {
              try {
                sessions.sweep(window);
                presence.prune(clock.instant());
              } catch (Throwable e) { // even an Error of a listener must not end the sweep
                LOGGER.log(Level.WARNING, "the agent sweep failed", e);
              }
            },
            SWEEP_SECONDS,
            SWEEP_SECONDS,
            TimeUnit.SECONDS);
    // Last: a goodbye taken by any node (this one included) ends the polls of that agent held
    // here, and its session here. The session is marked first: a poll of the agent registering
    // meanwhile sees it and ends itself.
    this.leaving =
        registry.whenAgentLeaves(
            (backend, agent) -> {
              sessions.heardLeft(backend, agent);
              presence.forget(backend, agent);
            });
  }

  /** How often agents silent for the liveness window are reported as disconnected. */
  private static final long SWEEP_SECONDS = 5;

  /** Returns a new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns how long an agent's list call waits for work before answering with no IDs. */
  public Duration longPollTimeout() {
    return longPollTimeout;
  }

  /** Returns how long a parked request waits for its response head before a 504. */
  public Duration responseTimeout() {
    return responseTimeout;
  }

  /** Returns the largest request head (start line and header fields) this engine accepts. */
  public int maxHeadBytes() {
    return maxHeadBytes;
  }

  /**
   * The header-size limit to set on the container that hosts this engine, for requests and
   * responses alike: {@link #maxHeadBytes()} plus {@value #CONTAINER_HEAD_SLACK} bytes (a
   * container counts line ends and spacing the engine does not). Below it the container would
   * refuse heads the engine accepts (Jetty's default is 8 KiB); just above it, a head over the
   * engine's limit reaches the engine, which answers 431 with its reason.
   */
  public int containerHeadLimit() {
    return maxHeadBytes + CONTAINER_HEAD_SLACK;
  }

  /** See {@link #containerHeadLimit()}. */
  public static final int CONTAINER_HEAD_SLACK = 1024;

  /** The default of {@link Builder#maxHeadBytes}: 32 KiB. */
  public static final int DEFAULT_MAX_HEAD_BYTES = 32 * 1024;

  /** Returns the storage this engine uses. */
  public Storage storage() {
    return storage;
  }

  // ---------------------------------------------------------------- client side

  /**
   * Parks a client request for an agent, or answers it at once with an error. Returns at once;
   * the response is sent later through {@link ClientExchange#respond} on another thread.
   *
   * @return a handle the transport cancels when the client disconnects
   */
  public Cancellable handle(ClientExchange exchange) {
    return clients.handle(exchange);
  }

  // ---------------------------------------------------------------- agent side

  /**
   * An agent's list call: waits up to {@link #longPollTimeout()} for pending request IDs of
   * {@code backendId}. Records the agent as seen. The transport cancels the future if the agent
   * disconnects.
   *
   * @throws UnauthenticatedException if the agent has no valid credential
   * @throws BadRequestException if the backend ID is missing
   */
  public CompletableFuture<List<String>> pending(AgentCall call) {
    return agents.pending(call);
  }

  /**
   * An agent's cancel poll (extension {@code cancel-notices}, announced on list answers): waits up
   * to {@link #longPollTimeout()} for IDs of requests an agent of the backend holds whose clients
   * left, so the agent can abort the backend calls.
   *
   * @throws UnauthenticatedException if the agent has no valid credential
   * @throws BadRequestException if the backend ID is missing
   */
  public CompletableFuture<List<String>> cancelled(AgentCall call) {
    return agents.cancelled(call);
  }

  /**
   * An agent's read: claims the request and writes it in HTTP/1.1 wire format, its body streaming
   * from the client.
   *
   * @throws UnauthenticatedException if the agent has no valid credential
   * @throws BadRequestException if a header is missing
   * @throws dev.invertingproxy.UnknownRequestException if no such request is pending
   * @throws dev.invertingproxy.RequestConflictException if its body already streamed to a read
   * @throws IOException if writing to the agent or reading from the client failed
   */
  public void readRequest(AgentCall call, AgentReadSink sink) throws IOException {
    agents.readRequest(call, sink);
  }

  /**
   * An agent's combined poll and read (extension {@code next-request}, announced on list
   * answers): waits up to {@link #longPollTimeout()} for a request of the agent's backend, claims
   * it and completes with it, ready to be written; completes empty when none came in time. The
   * transport cancels the future if the agent disconnects; a request claimed by then is offered
   * again.
   *
   * @throws UnauthenticatedException if the agent has no valid credential
   * @throws BadRequestException if the backend ID is missing
   */
  public CompletableFuture<Optional<NextRequest>> next(AgentCall call) {
    return agents.next(call);
  }

  /**
   * An agent's post: parses the response in HTTP/1.1 wire format from {@code wire} and relays it
   * to the waiting client, streaming; returns when the body has been relayed.
   *
   * @throws UnauthenticatedException if the agent has no valid credential
   * @throws BadRequestException if a header is missing
   * @throws dev.invertingproxy.UnknownRequestException if no such request waits for a response
   * @throws dev.invertingproxy.DuplicateResponseException if it was already answered
   * @throws dev.invertingproxy.MalformedMessageException if {@code wire} is not an HTTP response
   * @throws ClientGoneException if the client left
   * @throws IOException if reading from the agent failed
   */
  public void postResponse(AgentCall call, InputStream wire) throws IOException {
    agents.postResponse(call, wire);
  }

  /**
   * An agent's goodbye (extension {@code leave-notice}): the agent stopped polling and is going, so
   * it no longer counts as connected for its backend. When no other agent serves the backend, new
   * requests get 503 at once (on other nodes within a second) instead of waiting for a response
   * time-out. Requests it already holds may still be answered.
   *
   * @throws UnauthenticatedException if the agent has no valid credential
   * @throws BadRequestException if the backend or agent ID is missing
   */
  public void leave(AgentCall call) {
    agents.leave(call);
  }

  /** The client calls waiting for an answer (for tests: none must stay once answered). */
  int waitingCalls() {
    return clients.waitingCalls();
  }

  /**
   * Answers every parked client with 503, stops the timers and closes the storage if this engine
   * opened it. Idempotent.
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      if (sweep != null) {
        sweep.cancel(false);
      }
      leaving.run();
      clients.shutDown();
      if (ownsScheduler) {
        scheduler.shutdownNow();
      }
      if (ownsStorage) {
        storage.close();
      }
    }
  }

  /**
   * Builds a {@link ProxyEngine}.
   *
   * <p>This class is not thread-safe.
   */
  public static final class Builder {
    private @Nullable Storage storage;
    private URI storageUri = URI.create("memory:/");
    private @Nullable BackendResolver resolver;
    private boolean routeByRegistry;
    private AgentAuthenticator authenticator = AgentAuthenticator.denyAll();
    private Duration longPollTimeout = Duration.ofSeconds(25);
    private Duration responseTimeout = Duration.ofSeconds(60);
    private Duration livenessGrace = Duration.ofSeconds(5);
    private int maxHeadBytes = DEFAULT_MAX_HEAD_BYTES;
    private long maxBodyBytes = -1;
    private int maxPollsPerBackend = 100;
    private Clock clock = Clock.systemUTC();
    private @Nullable ScheduledExecutorService scheduler;
    private final List<ProxyListener> listeners = new ArrayList<>();
    private boolean accessLog;

    private Builder() {}

    /**
     * Adds a listener for this node's events (requests ended, agents connected and disconnected,
     * refused agent calls); see {@link ProxyListener}. The engine always logs agents and refusals
     * through {@link LoggingProxyListener}; listeners added here come after it.
     */
    public Builder listener(ProxyListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Writes an access log: one line per client request on the logger {@value
     * LoggingProxyListener#ACCESS_LOGGER} at INFO (format: {@link LoggingProxyListener}); default
     * off.
     */
    public Builder accessLog(boolean enabled) {
      this.accessLog = enabled;
      return this;
    }

    /** Uses {@code storage}; the caller closes it. */
    public Builder storage(Storage storage) {
      this.storage = Objects.requireNonNull(storage, "storage");
      return this;
    }

    /**
     * Opens the storage for {@code uri} through its discovered provider ({@code memory:} by
     * default); the engine closes it.
     */
    public Builder storage(URI uri) {
      this.storageUri = Objects.requireNonNull(uri, "uri");
      this.storage = null;
      return this;
    }

    /** Like {@link #storage(URI)}, from text such as {@code memory:} or {@code redis://h:6379}. */
    public Builder storage(String uri) {
      return storage(Providers.storageUri(uri));
    }

    /** Sends every client request to {@code backendId}. */
    public Builder backend(String backendId) {
      this.resolver = BackendResolver.fixed(backendId);
      this.routeByRegistry = false;
      return this;
    }

    /** Decides per request which backend it goes to. */
    public Builder backendResolver(BackendResolver resolver) {
      this.resolver = Objects.requireNonNull(resolver, "resolver");
      this.routeByRegistry = false;
      return this;
    }

    /**
     * Routes by the backend records of the engine's own storage: a {@link RegistryRouter} over
     * {@code storage().registry()}, with the engine's liveness window (long-poll time-out plus
     * {@link #livenessGrace}) and clock. See {@link RegistryRouter} for the rules (per user, then
     * shared; longest path prefix on segment boundaries; 404 if none matches). Replaces an earlier
     * {@link #backend} or {@link #backendResolver}; a later one of those replaces this.
     */
    public Builder routeByRegistry() {
      this.resolver = null;
      this.routeByRegistry = true;
      return this;
    }

    /**
     * Like {@link #routeByRegistry()}, but while the registry holds no record every request goes
     * to {@code fallbackBackendId} (single-backend mode, so existing setups keep working until the
     * first backend is registered).
     */
    public Builder routeByRegistry(String fallbackBackendId) {
      BackendResolver fallback = BackendResolver.fixed(fallbackBackendId);
      routeByRegistry();
      this.resolver = fallback;
      return this;
    }

    /**
     * Who may act as an agent. Default {@link AgentAuthenticator#denyAll()}: with no credential
     * configured every agent call is answered 401 (secure by default).
     */
    public Builder agentAuthenticator(AgentAuthenticator authenticator) {
      this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
      return this;
    }

    /**
     * How long an agent's list call waits for work; default 25 s. Keep it below the agents' own
     * poll time-out (60 s for the reference agent), or IDs may be lost in transit.
     */
    public Builder longPollTimeout(Duration timeout) {
      this.longPollTimeout = Checks.positive(timeout, "longPollTimeout");
      return this;
    }

    /** How long a parked request waits for its response head before a 504; default 60 s. */
    public Builder responseTimeout(Duration timeout) {
      this.responseTimeout = Checks.positive(timeout, "responseTimeout");
      return this;
    }

    /**
     * A backend counts as connected if an agent polled within the long-poll time-out plus this
     * grace; default 5 s. Otherwise requests get 503 at once.
     */
    public Builder livenessGrace(Duration grace) {
      this.livenessGrace = Checks.notNegative(grace, "livenessGrace");
      return this;
    }

    /** Maximum size of a request's start line and headers; default 32 KiB (431 beyond). */
    public Builder maxHeadBytes(int bytes) {
      this.maxHeadBytes = Checks.inRange(bytes, 1024, 1024 * 1024, "maxHeadBytes");
      return this;
    }

    /**
     * Maximum size of a request body in bytes; {@code -1} (the default) means unlimited. A larger
     * declared Content-Length is answered 413 at once; a chunked body that grows past it while
     * streaming is cut, and the client gets 413.
     */
    public Builder maxBodyBytes(long bytes) {
      if (bytes < -1) {
        throw new IllegalArgumentException("maxBodyBytes must be >= 0, or -1 for unlimited, was " + bytes);
      }
      this.maxBodyBytes = bytes;
      return this;
    }

    /**
     * How many long polls may wait at once for one backend; default 100. One more is answered
     * 429.
     */
    public Builder maxPollsPerBackend(int polls) {
      this.maxPollsPerBackend = Checks.inRange(polls, 1, 1_000_000, "maxPollsPerBackend");
      return this;
    }

    /** The time source; default the system clock (UTC). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Runs time-outs on {@code scheduler}; the caller shuts it down. */
    public Builder scheduler(ScheduledExecutorService scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * Builds the engine.
     *
     * @throws IllegalStateException if no backend, resolver or registry routing was set
     * @throws dev.invertingproxy.ProviderNotFoundException if the storage URI has no provider
     */
    public ProxyEngine build() {
      if (resolver == null && !routeByRegistry) {
        throw new IllegalStateException(
            "set backend(id), backendResolver(resolver) or routeByRegistry()");
      }
      return new ProxyEngine(this);
    }
  }
}
