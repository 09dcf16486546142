package dev.invertingproxy.core;

import dev.invertingproxy.AgentFailedException;
import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.ClaimedRequest;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.ForbiddenException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.PendingExchange;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.ResponseListener;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.UnsupportedRequestException;
import dev.invertingproxy.core.internal.Checks;
import dev.invertingproxy.core.internal.HeaderHygiene;
import dev.invertingproxy.core.internal.ObservedBody;
import dev.invertingproxy.core.internal.RequestIds;
import dev.invertingproxy.core.internal.TextResponses;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import dev.invertingproxy.core.internal.wire.HttpMessageWriter;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The proxy side, container-neutral: what a transport (the servlet binding) calls for client
 * requests ({@link #handle}), for the three v1 agent calls ({@link #pending}, {@link
 * #readRequest}, {@link #postResponse}) and for the extensions ({@link #cancelled}, {@link
 * #next}). Routing, header hygiene, limits, time-outs and error mapping live here; waiting
 * happens in the storage's futures and timers, never on a thread.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class ProxyEngine implements AutoCloseable {
  private static final System.Logger LOGGER = System.getLogger(ProxyEngine.class.getName());

  private final Storage storage;
  private final boolean ownsStorage;
  private final RequestBroker broker;
  private final BackendRegistry registry;
  private final AgentPresence presence;
  private final ProxyEvents events;
  private final AgentSessions sessions;
  private final @Nullable Future<?> sweep;
  /** Stops the registry's calls about agents leaving (registered last in the constructor). */
  private final Runnable leaving;
  private final BackendResolver resolver;
  private final AgentAuthenticator authenticator;
  private final Duration longPollTimeout;
  private final Duration responseTimeout;
  private final Duration livenessWindow;
  private final int maxHeadBytes;
  private final long maxBodyBytes;
  private final int maxPollsPerBackend;
  private final ConcurrentHashMap<String, AtomicInteger> pollsByBackend = new ConcurrentHashMap<>();
  /** IDs a next poll got beyond the one it claimed; kept well below the storage's re-offer delay. */
  private final ConcurrentHashMap<String, ConcurrentLinkedDeque<Surplus>> surplusByBackend =
      new ConcurrentHashMap<>();
  private static final long SURPLUS_NANOS = TimeUnit.SECONDS.toNanos(1);
  /** Client calls not answered yet, so that close() can answer them. */
  private final java.util.Set<ClientCall> calls = ConcurrentHashMap.newKeySet();
  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final boolean ownsScheduler;
  private final AtomicBoolean closed = new AtomicBoolean();

  private ProxyEngine(Builder builder) {
    this.ownsStorage = builder.storage == null;
    this.storage =
        builder.storage != null
            ? builder.storage
            : Providers.openStorage(builder.storageUri, StorageOptions.defaults());
    this.broker = storage.broker();
    this.registry = storage.registry();
    this.presence = new AgentPresence(registry);
    List<ProxyListener> listeners = new ArrayList<>();
    listeners.add(LoggingProxyListener.create(builder.accessLog));
    listeners.addAll(builder.listeners);
    this.events = new ProxyEvents(listeners);
    this.sessions = new AgentSessions(events);
    this.livenessWindow = builder.longPollTimeout.plus(builder.livenessGrace);
    if (builder.routeByRegistry) {
      // Presence is recorded at most once per AgentPresence.RESOLUTION: allow that much slack.
      RegistryRouter router =
          RegistryRouter.of(registry, livenessWindow.plus(AgentPresence.RESOLUTION), builder.clock);
      BackendResolver fallback = builder.resolver;
      // Single-backend mode until the first record is registered, if a fallback was given.
      this.resolver =
          fallback == null
              ? router
              : client -> registry.list().isEmpty() ? fallback.resolve(client) : router.resolve(client);
    } else {
      this.resolver = Objects.requireNonNull(builder.resolver, "backendResolver or backend");
    }
    this.authenticator = builder.authenticator;
    this.longPollTimeout = builder.longPollTimeout;
    this.responseTimeout = builder.responseTimeout;
    this.maxHeadBytes = builder.maxHeadBytes;
    this.maxBodyBytes = builder.maxBodyBytes;
    this.maxPollsPerBackend = builder.maxPollsPerBackend;
    this.clock = builder.clock;
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
    Objects.requireNonNull(exchange, "client");
    ObservedClient client = new ObservedClient(exchange, events, clock.instant());
    // Before routing: a dot segment could carry the request past the prefix it matched.
    Optional<InvertingProxyException> refusal = refusal(client.head());
    if (refusal.isPresent()) {
      respondError(
          client,
          ErrorMapping.status(refusal.get()),
          ErrorMapping.reason(refusal.get()),
          Headers.of("Connection", "close"));
      return Cancellable.NONE;
    }
    Optional<String> backendId;
    try {
      backendId = resolver.resolve(client);
    } catch (InvertingProxyException e) {
      // the registry's storage failed (Redis down): 503 with the reason
      respondError(client, ErrorMapping.status(e), ErrorMapping.reason(e), Headers.empty());
      return Cancellable.NONE;
    } catch (RuntimeException e) {
      LOGGER.log(Level.WARNING, "backend resolver failed", e);
      respondError(client, 500, "the proxy could not route this request", Headers.empty());
      return Cancellable.NONE;
    }
    if (backendId.isEmpty()) {
      respondError(client, 404, "no backend serves this request", Headers.empty());
      return Cancellable.NONE;
    }
    String backend = backendId.get();
    client.routedTo(backend);
    Instant now = clock.instant();
    Optional<Instant> seen;
    try {
      seen = presence.lastSeen(backend, now, presenceWindow());
    } catch (InvertingProxyException e) {
      respondError(client, ErrorMapping.status(e), ErrorMapping.reason(e), Headers.empty());
      return Cancellable.NONE;
    }
    if (seen.isEmpty() || seen.get().isBefore(now.minus(presenceWindow()))) {
      respondError(client, 503, noAgentReason(backend), Headers.of("Retry-After", "5"));
      return Cancellable.NONE;
    }
    RequestHead head = client.head();
    if (headSize(head) > maxHeadBytes) {
      respondError(
          client,
          431,
          "request head (start line and header fields) larger than the limit of "
              + maxHeadBytes
              + " bytes",
          Headers.empty());
      return Cancellable.NONE;
    }
    if (maxBodyBytes >= 0 && client.body().contentLength() > maxBodyBytes) {
      respondError(client, 413, bodyLimitMessage(), Headers.empty());
      return Cancellable.NONE;
    }
    Headers headers = HeaderHygiene.withoutHopByHop(head.headers(), true);
    headers = HeaderHygiene.withoutProtocolHeaders(headers);
    headers =
        HeaderHygiene.withForwarded(
            headers, client.remoteAddress(), client.scheme(), head.headers().first("Host").orElse(""));
    ParkedRequest parked =
        new ParkedRequest(
            RequestIds.next(), backend, head.withHeaders(headers), now, client.userId().orElse(null));
    ClientCall call = new ClientCall(client, parked);
    MessageBody body = new ObservedBody(client.body(), maxBodyBytes, call);
    try {
      call.start(broker.submit(parked, body, call));
    } catch (LimitExceededException e) {
      respondError(client, e.status(), e.getMessage(), Headers.of("Retry-After", "1"));
      return Cancellable.NONE;
    } catch (InvertingProxyException e) {
      respondError(client, ErrorMapping.status(e), ErrorMapping.reason(e), Headers.empty());
      return Cancellable.NONE;
    }
    LOGGER.log(
        Level.DEBUG, () -> "[" + parked.id() + "] parked " + head.method() + " for " + backend);
    return call;
  }

  /**
   * Why a request is refused before routing, if it is (answered at once, nothing reaches an
   * agent): a target with a dot segment (400, {@link RequestTargets}), or what cannot be relayed
   * faithfully (501): {@code CONNECT} (a tunnel, not a request; containers even report its authority-form
   * target as {@code /}), {@code TRACE} (it echoes the request, credentials and cookies included,
   * back to whatever sent it) and a transfer coding other than {@code chunked} (containers remove
   * the chunked coding only: the body would reach the backend still coded yet framed as plain).
   */
  private static Optional<InvertingProxyException> refusal(RequestHead head) {
    Optional<String> target = RequestTargets.refusal(head.target());
    if (target.isPresent()) {
      return Optional.of(new BadRequestException(target.get()));
    }
    String method = head.method();
    if (method.equals("CONNECT")) {
      return Optional.of(
          new UnsupportedRequestException(
              "CONNECT is not supported: the proxy relays requests, not tunnels"));
    }
    if (method.equals("TRACE")) {
      return Optional.of(
          new UnsupportedRequestException(
              "TRACE is not relayed: it would echo the request's credentials and cookies"));
    }
    List<String> codings = new ArrayList<>();
    for (String field : head.headers().all("Transfer-Encoding")) {
      for (String coding : field.split(",", -1)) {
        codings.add(coding.strip());
      }
    }
    if (!codings.isEmpty() && !(codings.size() == 1 && codings.get(0).equalsIgnoreCase("chunked"))) {
      return Optional.of(
          new UnsupportedRequestException(
              "unsupported Transfer-Encoding \""
                  + String.join(", ", codings)
                  + "\": only chunked request bodies are relayed"));
    }
    return Optional.empty();
  }

  /** Something a transport cancels, such as a parked request whose client left. */
  @FunctionalInterface
  public interface Cancellable {
    /** Does nothing. */
    Cancellable NONE = () -> {};

    /** Cancels; idempotent. */
    void cancel();
  }

  /** A parked client request: the broker's listener and the transport's cancel handle. */
  private final class ClientCall implements ResponseListener, Cancellable, ObservedBody.Observer {
    private final ObservedClient client;
    private final ParkedRequest parked;
    private final AtomicBoolean answered = new AtomicBoolean();
    private volatile @Nullable PendingExchange exchange;
    private volatile @Nullable Future<?> timer;
    /** While the client's body streams to an agent, the response wait does not run out. */
    private volatile boolean bodyStreaming;
    /** Why the client's body failed, if it did (it may fail before {@link #start} ran). */
    private volatile @Nullable InvertingProxyException bodyFailure;

    ClientCall(ObservedClient client, ParkedRequest parked) {
      this.client = client;
      this.parked = parked;
    }

    void start(PendingExchange pending) {
      this.exchange = pending;
      InvertingProxyException early = bodyFailure;
      if (early != null) {
        bodyFailed(early); // a quick agent's read failed on the client's body before this ran
      }
      // The answer may already have come (an agent can be that quick): then nothing is left to
      // track, and adding this call would keep it in calls for good.
      if (answered.get()) {
        return;
      }
      calls.add(this);
      if (answered.get()) {
        calls.remove(this); // answered meanwhile: answer() may have removed it before the add
        return;
      }
      schedule();
    }

    private void schedule() {
      this.timer =
          scheduler.schedule(this::timeout, responseTimeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void timeout() {
      if (bodyStreaming) {
        schedule(); // an upload still in progress: the wait counts from its end
        return;
      }
      PendingExchange pending = exchange;
      if (pending != null && pending.cancel() && answer()) {
        LOGGER.log(Level.DEBUG, () -> "[" + parked.id() + "] no response in time");
        respondError(client, 504, timeoutReason(parked.backendId()), Headers.empty());
      }
    }

    @Override
    public void started() {
      bodyStreaming = true;
    }

    @Override
    public void ended() {
      bodyStreaming = false;
      if (!answered.get()) {
        cancelTimer(); // the response wait starts now that the whole request is with the agent
        schedule();
      }
    }

    @Override
    public void exceeded() {
      // Like any other failure of the client's body: remembered if it comes before start().
      failed(new dev.invertingproxy.BodyTooLargeException(bodyLimitMessage()));
    }

    @Override
    public void failed(InvertingProxyException failure) {
      bodyStreaming = false;
      bodyFailure = failure;
      bodyFailed(failure);
    }

    /** Marks the call answered, once; it no longer needs closing. */
    private boolean answer() {
      if (answered.compareAndSet(false, true)) {
        calls.remove(this);
        return true;
      }
      return false;
    }

    /** The proxy shuts down: 503 if nothing was sent yet. */
    void shutDown() {
      PendingExchange pending = exchange;
      if (pending != null && pending.cancel() && answer()) {
        respondError(client, 503, "the proxy is shutting down", Headers.of("Retry-After", "5"));
      }
    }

    /**
     * The client's body failed while an agent read it (malformed, stalled, cut): the client's
     * doing, not the agent's. The request is withdrawn (the agent's read is cut) and the client
     * answered with the failure's status, unless it left: then there is nothing to answer.
     */
    private void bodyFailed(InvertingProxyException failure) {
      PendingExchange pending = exchange;
      if (pending == null || !pending.cancel() || !answer()) {
        return; // not parked yet (start() comes back here), or answered already
      }
      cancelTimer();
      LOGGER.log(
          Level.DEBUG,
          () -> "[" + parked.id() + "] the client's body failed: " + failure.getMessage());
      if (failure instanceof ClientGoneException) {
        client.left();
      } else {
        respondError(
            client,
            ErrorMapping.status(failure),
            ErrorMapping.reason(failure),
            Headers.of("Connection", "close"));
      }
    }

    @Override
    public void onResponse(ResponseHead head, MessageBody body) throws IOException {
      if (!answer()) {
        throw new ClientGoneException("request " + parked.id() + " was already answered");
      }
      cancelTimer();
      try {
        presence.used(parked.backendId(), clock.instant());
      } catch (InvertingProxyException e) {
        // bookkeeping only: the response still goes to the client
        LOGGER.log(Level.DEBUG, () -> "could not record the backend's last use: " + e.getMessage());
      }
      ResponseHead cleaned = head.withHeaders(HeaderHygiene.withoutHopByHop(head.headers(), false));
      client.respond(cleaned, body);
    }

    @Override
    public void onFailure(InvertingProxyException cause) {
      if (answer()) {
        cancelTimer();
        respondError(client, ErrorMapping.status(cause), ErrorMapping.reason(cause), Headers.empty());
      }
    }

    @Override
    public void cancel() {
      cancelTimer();
      calls.remove(this);
      PendingExchange pending = exchange;
      if (pending != null && pending.cancel()) {
        LOGGER.log(Level.DEBUG, () -> "[" + parked.id() + "] cancelled: the client left");
      }
      client.left();
    }

    private void cancelTimer() {
      Future<?> scheduled = timer;
      if (scheduled != null) {
        scheduled.cancel(false);
      }
    }
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
    return poll(call, "", true, List.of(), (backend, session) -> {
      if (!call.agentId().isEmpty() && session.firstPoll()) {
        // This project's agent, new here: answered at once, so that it learns the capabilities
        // (and polls agent/next, and can say goodbye) without waiting out a long poll. What is
        // pending stays pending for its next poll.
        return CompletableFuture.completedFuture(List.of());
      }
      return broker.awaitPending(backend, longPollTimeout);
    });
  }

  /**
   * A poll of any kind: authorizes the agent, records it as seen when the poll starts and when it
   * ends (not when the agent left: a cancelled poll), and keeps the agent's session alive
   * meanwhile.
   *
   * @param forWork a poll for requests (list or next), which starts the agent's session and, while
   *     open, makes the backend count as present on this node; a cancel-notice poll does neither
   *     (one may still be open while the agent finishes its requests after its goodbye)
   */
  private <T> CompletableFuture<T> poll(
      AgentCall call,
      String kind,
      boolean forWork,
      T none,
      BiFunction<String, AgentSessions.Session, CompletableFuture<T>> start) {
    Authorized agent = authorize(call);
    String backend = agent.backend();
    ProxyListener.AgentEvent event = agent.event(call);
    String agentId = event.agentId();
    if (forWork && sessions.saidGoodbye(event)) {
      // A poll the agent sent before it closed, taken after its goodbye: it must not count it as
      // connected again, nor be handed a request. (Not a refusal worth a warning: it comes at
      // every clean stop. An agent ID shared by running agents is a misconfiguration.)
      LOGGER.log(Level.DEBUG, () -> "a poll of agent " + agentId + " after its goodbye");
      throw new ForbiddenException(
          "agent " + agentId + " said goodbye; its ID is not served for a minute after that"
              + " (an agent ID must be unique to one running agent)");
    }
    AgentSessions.Session session = sessions.active(event, forWork);
    presence.seen(backend, agentId, clock.instant());
    // What the storage waits on (cancelled when the agent leaves) and what the transport answers
    // from: a poll that its agent's goodbye ends is answered (empty), not left hanging.
    CompletableFuture<T> waiting = limitPolls(backend, kind, () -> start.apply(backend, session));
    CompletableFuture<T> result = new CompletableFuture<>();
    waiting.whenComplete(
        (value, failure) -> {
          if (failure != null) {
            result.completeExceptionally(failure);
          } else {
            result.complete(value);
          }
        });
    result.whenComplete(
        (value, failure) -> {
          if (result.isCancelled()) {
            waiting.cancel(false); // the transport saw the agent disconnect
          }
        });
    session.pollStarted();
    AgentPresence.OpenPoll open =
        forWork
            ? presence.pollStarted(
                backend,
                agentId,
                () -> {
                  // Answered empty first (its agent is going), then nothing more for it from the
                  // storage: cancelled first, the cancellation would reach the answer.
                  result.complete(none);
                  waiting.cancel(false);
                })
            : null;
    result.whenComplete(
        (value, failure) -> {
          session.pollEnded();
          if (open != null) {
            presence.pollEnded(backend, open);
          }
          if (!result.isCancelled()) {
            presence.seen(backend, agentId, clock.instant());
          }
        });
    if (open != null && sessions.saidGoodbye(event)) {
      // The goodbye came while this poll was being set up: the agent's polls were ended before
      // this one was registered.
      open.end();
    }
    return result;
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
    // An agent busy with all its requests still keeps this poll open: it counts as connected.
    return poll(
        call,
        "cancel notices ",
        false,
        List.of(),
        (backend, session) -> broker.awaitCancelled(backend, longPollTimeout));
  }

  /** At most {@code maxPollsPerBackend} waiting polls of one kind per backend; beyond: 429. */
  private <T> CompletableFuture<T> limitPolls(
      String backend, String kind, Supplier<CompletableFuture<T>> poll) {
    AtomicInteger polling =
        pollsByBackend.computeIfAbsent(kind + backend, id -> new AtomicInteger());
    if (polling.incrementAndGet() > maxPollsPerBackend) {
      polling.decrementAndGet();
      throw new dev.invertingproxy.TooManyPollsException(
          "too many concurrent "
              + (kind.isEmpty() ? "polls" : kind + "polls")
              + " for backend "
              + backend
              + " (limit "
              + maxPollsPerBackend
              + ")");
    }
    CompletableFuture<T> ids;
    try {
      ids = poll.get();
    } catch (RuntimeException e) {
      polling.decrementAndGet();
      throw e;
    }
    ids.whenComplete((result, failure) -> polling.decrementAndGet());
    return ids;
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
    Authorized agent = authorize(call);
    sessions.active(agent.event(call), false);
    String backend = agent.backend();
    String id = requireRequestId(call.requestId());
    new ClaimedForAgent(backend, broker.claim(backend, id)).writeTo(sink);
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
    CompletableFuture<Optional<NextRequest>> result = new CompletableFuture<>();
    String[] polled = new String[1];
    ProxyListener.AgentEvent[] agent = new ProxyListener.AgentEvent[1];
    CompletableFuture<List<String>> ids =
        poll(
            call,
            "next-request ",
            true,
            List.<String>of(),
            (backend, session) -> {
              polled[0] = backend;
              agent[0] = session.agent;
              return nextIds(backend);
            });
    String backend = polled[0];
    ids.whenComplete(
        (list, failure) -> {
          if (ids.isCancelled()) {
            result.cancel(false); // the transport saw the agent disconnect: nothing to answer
            return;
          }
          if (failure != null) {
            result.completeExceptionally(failure);
            return;
          }
          ClaimedForAgent claimed;
          try {
            claimed = claimFirst(backend, list);
          } catch (RuntimeException e) {
            result.completeExceptionally(e); // never leave the poll unanswered
            return;
          }
          if (claimed != null && sessions.saidGoodbye(agent[0])) {
            // Its agent said goodbye while the request was being claimed: someone else may take it.
            broker.release(
                backend, claimed.id(), new AgentFailedException("the agent said goodbye"));
            result.complete(Optional.empty());
            return;
          }
          if (!result.complete(Optional.ofNullable(claimed)) && claimed != null) {
            // The agent left between the claim and the answer: someone else may take it.
            broker.release(backend, claimed.id(), new AgentFailedException("the agent's poll was cancelled"));
          }
        });
    result.whenComplete(
        (claimed, failure) -> {
          if (result.isCancelled()) {
            ids.cancel(false);
          }
        });
    return result;
  }

  /** IDs for a next poll: one left over from an earlier poll on this node, else the broker's. */
  private CompletableFuture<List<String>> nextIds(String backend) {
    ConcurrentLinkedDeque<Surplus> surplus = surplusByBackend.get(backend);
    if (surplus != null) {
      long now = System.nanoTime();
      Surplus left;
      while ((left = surplus.poll()) != null) {
        if (now - left.since < SURPLUS_NANOS) {
          return CompletableFuture.completedFuture(List.of(left.id));
        }
      }
    }
    return broker.awaitPending(backend, longPollTimeout, 1); // one poll, one request
  }

  /**
   * Claims the first claimable of {@code ids}; keeps the rest for the next polls on this node, as
   * long as the broker would not yet offer them again.
   */
  private @Nullable ClaimedForAgent claimFirst(String backend, List<String> ids) {
    for (int i = 0; i < ids.size(); i++) {
      String id = ids.get(i);
      ClaimedRequest claimed;
      try {
        claimed = broker.claim(backend, id);
      } catch (InvertingProxyException gone) {
        continue; // the client left, or another agent holds it
      }
      if (i + 1 < ids.size()) {
        ConcurrentLinkedDeque<Surplus> surplus =
            surplusByBackend.computeIfAbsent(backend, b -> new ConcurrentLinkedDeque<>());
        long now = System.nanoTime();
        for (String rest : ids.subList(i + 1, ids.size())) {
          surplus.add(new Surplus(rest, now));
        }
      }
      return new ClaimedForAgent(backend, claimed);
    }
    return null;
  }

  private record Surplus(String id, long since) {}

  /**
   * A request claimed for an agent by {@link #next}: write it with {@link #writeTo}.
   *
   * @since 0.1
   */
  public interface NextRequest {
    /** The request's ID. */
    String id();

    /**
     * Writes the request's metadata headers and the request in HTTP/1.1 wire format, its body
     * streaming from the client. If writing fails, the request is offered again when none of its
     * body was used, else its client gets 502. If the client's body fails (malformed, stalled,
     * cut, too large), the request is withdrawn and its client answered (400, 408, 413, nothing if
     * it left); what was written is flushed before the failure is thrown, so that the transport
     * cuts the answer and the agent never sees the request complete.
     */
    void writeTo(AgentReadSink sink) throws IOException;

    /** Gives the request back without writing it (the answer could not be started). */
    void giveBack(String why);

    /**
     * True if writing may wait for the client's body (a body that is not empty): write such a
     * request on a thread that may block. A request without a body is written at once.
     */
    boolean waitsForClient();
  }

  /** A claimed request and the one way it is written to an agent (read and next alike). */
  private final class ClaimedForAgent implements NextRequest {
    private final String backend;
    private final ClaimedRequest claimed;

    ClaimedForAgent(String backend, ClaimedRequest claimed) {
      this.backend = backend;
      this.claimed = claimed;
    }

    @Override
    public String id() {
      return claimed.request().id();
    }

    @Override
    public boolean waitsForClient() {
      return claimed.body().contentLength() != 0;
    }

    @Override
    public void giveBack(String why) {
      broker.release(backend, id(), new AgentFailedException(why));
    }

    @Override
    public void writeTo(AgentReadSink sink) throws IOException {
      ParkedRequest request = claimed.request();
      String id = request.id();
      sink.header(ProtocolHeaders.REQUEST_ID, id);
      sink.header(
          ProtocolHeaders.REQUEST_START_TIME,
          DateTimeFormatter.ISO_INSTANT.format(request.startTime()));
      request.userId().ifPresent(user -> sink.header(ProtocolHeaders.USER_ID, user));
      OutputStream out = null;
      try {
        out = sink.body();
        HttpMessageWriter.writeRequest(out, request.head(), claimed.body());
        // Flushed here, not by the transport's completion: an agent that left must show as a
        // failed write, so that the request is offered again rather than lost.
        out.flush();
      } catch (ObservedBody.ClientBodyException clientFailed) {
        // The client's upload failed (malformed, stalled, cut, too large), not the agent: the
        // request is withdrawn and its client answered already (ClientCall). The agent must see
        // the request cut, never complete: what was written goes out, then the transport cuts it.
        flushQuietly(out);
        throw clientFailed;
      } catch (IOException | RuntimeException e) {
        // The agent's read broke (it left): offer the request again if none of its body was used,
        // else answer the client 502 now rather than at the time-out. (A client's failure relayed
        // by a storage from another node lands here too; that request is withdrawn already.)
        broker.release(
            backend,
            id,
            new AgentFailedException("the agent's read of the request failed: " + e.getMessage()));
        throw e;
      }
      LOGGER.log(Level.DEBUG, () -> "[" + id + "] read by an agent of " + backend);
    }

    private void flushQuietly(@Nullable OutputStream out) {
      try {
        if (out != null) {
          out.flush();
        }
      } catch (IOException | RuntimeException agentGoneToo) {
        LOGGER.log(Level.DEBUG, () -> "[" + id() + "] could not flush the agent's read: " + agentGoneToo);
      }
    }
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
    Authorized agent = authorize(call);
    sessions.active(agent.event(call), false);
    String backend = agent.backend();
    String id = requireRequestId(call.requestId());
    ParkedRequest request = broker.awaitingResponse(backend, id);
    HttpMessageReader reader = new HttpMessageReader(wire, maxHeadBytes);
    ResponseHead head;
    try {
      head = reader.readResponseHead();
    } catch (MalformedMessageException | LimitExceededException e) {
      // The agent's answer is unusable: another agent may do better, else the client gets 502.
      broker.release(
          backend, id, new AgentFailedException("the agent's response was not usable: " + e.getMessage()));
      throw e;
    } catch (IOException agentGone) {
      // The agent's connection broke before it answered: give the request back (another agent
      // may take it), or fail it with 502 if that cannot be done safely.
      boolean again =
          broker.release(
              backend,
              id,
              new AgentFailedException(
                  "the agent of backend " + backend + " failed before answering: " + agentGone.getMessage()));
      LOGGER.log(
          Level.DEBUG,
          () -> "[" + id + "] agent failed before answering; " + (again ? "offered again" : "failed"));
      throw agentGone;
    }
    MessageBody body = reader.responseBody(head, request.head().method());
    broker.deliver(backend, id, head, body);
    LOGGER.log(Level.DEBUG, () -> "[" + id + "] answered " + head.status());
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
    Authorized agent = authorize(call);
    String agentId = call.agentId();
    if (agentId.isEmpty()) {
      throw new BadRequestException("missing header " + ProtocolHeaders.AGENT_ID);
    }
    // Marked first: a poll of this agent registering meanwhile sees it and ends itself.
    sessions.left(agent.event(call));
    presence.left(agent.backend(), agentId, clock.instant());
  }

  /** An authorized agent call: the backend it acts for and the identity it proved. */
  private record Authorized(String backend, String identity) {
    ProxyListener.AgentEvent event(AgentCall call) {
      return new ProxyListener.AgentEvent(backend, identity, call.remoteAddress(), call.agentId());
    }
  }

  /**
   * Authenticates the agent and checks it may act for the backend it names.
   *
   * @throws UnauthenticatedException without a valid credential
   * @throws ForbiddenException if the backend's record does not name the agent's identity, or
   *     backends are registered and this one is not
   * @throws BadRequestException without a backend ID
   */
  private Authorized authorize(AgentCall call) {
    Optional<String> identity = authenticator.authenticate(call.headers());
    if (identity.isEmpty()) {
      throw refused(
          call,
          null,
          new UnauthenticatedException(
              "agent credentials missing or not accepted (send Authorization: Bearer <token>)"));
    }
    String backend = requireBackend(call.backendId());
    call.agentId(); // checked once here: 400 for an ID that is not one
    // A registered backend names the agents that may act for it. Once backends are registered,
    // an agent may act only for a registered one (no made-up backend IDs).
    Optional<BackendRecord> record = registry.get(backend);
    if (record.isPresent()) {
      if (!record.get().agentIdentities().contains(identity.get())) {
        throw refused(
            call,
            identity.get(),
            new ForbiddenException(
                "agent "
                    + identity.get()
                    + " may not act for backend "
                    + backend
                    + " (its record allows: "
                    + String.join(", ", new TreeSet<>(record.get().agentIdentities()))
                    + ")"));
      }
    } else if (!registry.list().isEmpty()) {
      throw refused(
          call,
          identity.get(),
          new ForbiddenException(
              "backend " + backend + " is not registered (agent " + identity.get() + ")"));
    }
    return new Authorized(backend, identity.get());
  }

  /** Reports a refused agent call to the listeners; returns the failure to throw. */
  private InvertingProxyException refused(
      AgentCall call, @Nullable String identity, InvertingProxyException failure) {
    events.agentRefused(
        new ProxyListener.AgentRefusal(
            ErrorMapping.status(failure),
            failure.getMessage(),
            call.remoteAddress(),
            call.backendId(),
            identity));
    return failure;
  }

  private static String requireBackend(@Nullable String backendId) {
    if (backendId == null || backendId.isBlank()) {
      throw new BadRequestException("missing header " + ProtocolHeaders.BACKEND_ID);
    }
    return backendId;
  }

  private static String requireRequestId(@Nullable String requestId) {
    if (requestId == null || requestId.isBlank()) {
      throw new BadRequestException("missing header " + ProtocolHeaders.REQUEST_ID);
    }
    return requestId;
  }

  // ---------------------------------------------------------------- errors

  /** Answers a client with a short text/plain error; failures to write are logged only. */
  private static void respondError(
      ObservedClient client, int status, String message, Headers extra) {
    client.reason(message);
    TextResponses.TextResponse error = TextResponses.of(status, message, extra);
    try {
      client.respond(error.head(), error.body());
    } catch (IOException | RuntimeException e) {
      LOGGER.log(Level.DEBUG, () -> "could not send " + status + " to the client: " + e);
    }
  }

  /** Why a request gets 503: no agent of its backend polls (or polled within the window). */
  private String noAgentReason(String backend) {
    return "no agent is connected for backend "
        + backend
        + " (none is polling, none polled within the last "
        + livenessWindow.toSeconds()
        + " s, or the last one stopped)";
  }

  /**
   * Why a parked request gets 504: no answer in time; it says whether an agent is connected now,
   * so that it never blames an agent that is gone.
   */
  private String timeoutReason(String backend) {
    // What this node knows without asking the storage: this runs on the timer thread.
    boolean connected = presence.knownConnected(backend, clock.instant(), presenceWindow());
    return "no response from backend "
        + backend
        + " within "
        + responseTimeout.toSeconds()
        + " s"
        + (connected
            ? " (an agent is connected: the backend may be slow, or the agent busy)"
            : "; no agent of it is known to be connected now (it may have stopped or lost its"
                + " connection)");
  }

  private String bodyLimitMessage() {
    return "request body larger than the limit of " + maxBodyBytes + " bytes";
  }

  private static long headSize(RequestHead head) {
    long size = head.method().length() + head.target().length() + head.version().length() + 4;
    for (var field : head.headers().fields()) {
      size += field.name().length() + field.value().length() + 4;
    }
    return size;
  }

  /**
   * The liveness window as checked against recorded presence: a poll's start may go unrecorded
   * for up to {@link AgentPresence#RESOLUTION} (coalesced), so that much is added.
   */
  private Duration presenceWindow() {
    return livenessWindow.plus(AgentPresence.RESOLUTION);
  }

  /** The client calls waiting for an answer (for tests: none must stay once answered). */
  int waitingCalls() {
    return calls.size();
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
      for (ClientCall call : List.copyOf(calls)) {
        call.shutDown(); // no parked client is left waiting for a timer that will not run
      }
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
