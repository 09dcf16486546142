package dev.invertingproxy.core;

import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.BodyTooLargeException;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.HeadTooLargeException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.NoAgentException;
import dev.invertingproxy.NotFoundException;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.PendingExchange;
import dev.invertingproxy.ProxyTimeoutException;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.ResponseListener;
import dev.invertingproxy.ShuttingDownException;
import dev.invertingproxy.UnsupportedRequestException;
import dev.invertingproxy.core.internal.HeaderHygiene;
import dev.invertingproxy.core.internal.ObservedBody;
import dev.invertingproxy.core.internal.RequestIds;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import dev.invertingproxy.core.spi.Cancellable;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * The client side of a {@link ProxyEngine}: takes a client request ({@link #handle}), refuses what
 * cannot be relayed faithfully, routes it to a backend, checks that an agent of the backend is
 * connected and that the request is within the head and body limits, parks it in the storage and
 * answers its client exactly once: with the agent's response, with an error, with 504 when no
 * response comes in time, or with 503 when the engine shuts down ({@link #shutDown}). It is the
 * only place that knows whether a client request is answered ({@code ClientCall}); the agent side
 * ({@link AgentDesk}) reaches a client only through the storage.
 *
 * <p>This class is thread-safe.
 */
final class ClientRelay {
  /** Logs under the engine's name, as before the engine was split: log settings name it. */
  private static final System.Logger LOGGER = System.getLogger(ProxyEngine.class.getName());

  private final RequestBroker broker;
  private final AgentPresence presence;
  private final ProxyEvents events;
  private final BackendResolver resolver;
  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final Duration responseTimeout;
  private final Duration livenessWindow;
  private final int maxHeadBytes;
  private final long maxBodyBytes;
  /** Client calls not answered yet, so that {@link #shutDown} can answer them. */
  private final Set<ClientCall> calls = ConcurrentHashMap.newKeySet();

  /**
   * A relay that parks requests with {@code broker} and runs its response waits on {@code
   * scheduler}.
   *
   * @param livenessWindow how long after its last poll an agent still counts as connected
   * @param maxBodyBytes the largest request body, or {@code -1} for no limit
   */
  ClientRelay(
      RequestBroker broker,
      AgentPresence presence,
      ProxyEvents events,
      BackendResolver resolver,
      Clock clock,
      ScheduledExecutorService scheduler,
      Duration responseTimeout,
      Duration livenessWindow,
      int maxHeadBytes,
      long maxBodyBytes) {
    this.broker = broker;
    this.presence = presence;
    this.events = events;
    this.resolver = resolver;
    this.clock = clock;
    this.scheduler = scheduler;
    this.responseTimeout = responseTimeout;
    this.livenessWindow = livenessWindow;
    this.maxHeadBytes = maxHeadBytes;
    this.maxBodyBytes = maxBodyBytes;
  }

  /**
   * Parks a client request for an agent, or answers it at once with an error; see {@link
   * ProxyEngine#handle}.
   */
  Cancellable handle(ClientExchange exchange) {
    Objects.requireNonNull(exchange, "client");
    ObservedClient client = new ObservedClient(exchange, events, clock.instant());
    // Before routing: a dot segment could carry the request past the prefix it matched.
    Optional<InvertingProxyException> refusal = refusal(client.head());
    if (refusal.isPresent()) {
      respondError(client, refusal.get(), CLOSE);
      return Cancellable.NONE;
    }
    Optional<String> backendId;
    try {
      backendId = resolver.resolve(client);
    } catch (InvertingProxyException e) {
      // the registry's storage failed (Redis down): 503 with the reason
      respondError(client, e);
      return Cancellable.NONE;
    } catch (RuntimeException e) {
      LOGGER.log(Level.WARNING, "backend resolver failed", e);
      // A bug in the application's resolver: a 500 whose reason is ours, not the exception's.
      respond(client, new ErrorAnswer(500, "the proxy could not route this request", Headers.empty()));
      return Cancellable.NONE;
    }
    if (backendId.isEmpty()) {
      respondError(client, new NotFoundException("no backend serves this request"));
      return Cancellable.NONE;
    }
    String backend = backendId.get();
    client.routedTo(backend);
    Instant now = clock.instant();
    Optional<Instant> seen;
    try {
      seen = presence.lastSeen(backend, now, presenceWindow());
    } catch (InvertingProxyException e) {
      respondError(client, e);
      return Cancellable.NONE;
    }
    if (seen.isEmpty() || seen.get().isBefore(now.minus(presenceWindow()))) {
      respondError(client, new NoAgentException(noAgentReason(backend)));
      return Cancellable.NONE;
    }
    RequestHead head = client.head();
    if (headSize(head) > maxHeadBytes) {
      respondError(
          client,
          new HeadTooLargeException(
              "request head (start line and header fields) larger than the limit of "
                  + maxHeadBytes
                  + " bytes"));
      return Cancellable.NONE;
    }
    if (maxBodyBytes >= 0 && client.body().contentLength() > maxBodyBytes) {
      respondError(client, new BodyTooLargeException(bodyLimitMessage()));
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
    } catch (InvertingProxyException e) { // a full queue: 503 with Retry-After, by its type
      ErrorAnswer answer = ErrorMapping.answer(e);
      if (e instanceof LimitExceededException && !answer.headers().contains("Retry-After")) {
        // A storage's limit of its own (the deprecated status-taking constructor): the queue
        // drains as agents read, so come back soon, whatever status it chose.
        answer =
            new ErrorAnswer(
                answer.status(),
                answer.reason(),
                answer.headers().toBuilder().add("Retry-After", "1").build());
      }
      respond(client, answer);
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
        respondError(client, new ProxyTimeoutException(timeoutReason(parked.backendId())));
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
      failed(new BodyTooLargeException(bodyLimitMessage()));
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
        respondError(client, new ShuttingDownException("the proxy is shutting down"));
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
        respondError(client, failure, CLOSE);
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
        respondError(client, cause);
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

  /** Answers the connection closes after an error whose request body was not read. */
  private static final Headers CLOSE = Headers.of("Connection", "close");

  /** Answers a client with {@code failure} as {@link ErrorMapping} maps it. */
  private static void respondError(ObservedClient client, Throwable failure) {
    respond(client, ErrorMapping.answer(failure));
  }

  /** Like {@link #respondError(ObservedClient, Throwable)}, with {@code extra} headers. */
  private static void respondError(ObservedClient client, Throwable failure, Headers extra) {
    ErrorAnswer answer = ErrorMapping.answer(failure);
    respond(
        client,
        new ErrorAnswer(
            answer.status(),
            answer.reason(),
            answer.headers().toBuilder().addAll(extra).build()));
  }

  /** Answers a client with a short text/plain error; failures to write are logged only. */
  private static void respond(ObservedClient client, ErrorAnswer answer) {
    client.reason(answer.reason());
    try {
      client.respond(answer.head(), answer.body());
    } catch (IOException | RuntimeException e) {
      LOGGER.log(Level.DEBUG, () -> "could not send " + answer.status() + " to the client: " + e);
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

  /** The engine shuts down: every parked client not answered yet gets 503. */
  void shutDown() {
    for (ClientCall call : List.copyOf(calls)) {
      call.shutDown(); // no parked client is left waiting for a timer that will not run
    }
  }
}
