package dev.invertingproxy.core;

import dev.invertingproxy.AgentLoop;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.internal.Checks;
import dev.invertingproxy.core.internal.RequestIds;
import dev.invertingproxy.core.internal.HeaderHygiene;
import dev.invertingproxy.core.internal.TextResponses;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import dev.invertingproxy.core.internal.wire.HttpMessageWriter;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import dev.invertingproxy.spi.AgentTransport.WireMessage;
import dev.invertingproxy.spi.AgentTransportConfig;
import dev.invertingproxy.spi.CancelSignal;
import dev.invertingproxy.spi.ProxyCallException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
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
 * <p>It owns its poll thread and workers (named daemon threads) and, unless one was given, its
 * transport; {@link #close()} drains in-flight requests within a bound, then releases them.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class DefaultAgentLoop implements AgentLoop {
  private static final System.Logger LOGGER = System.getLogger(DefaultAgentLoop.class.getName());
  private static final int SEEN_IDS = 1000;
  private static final int READ_ATTEMPTS = 3;

  private final AgentTransport transport;
  private final boolean ownsTransport;
  private final String backendId;
  private final URI backend;
  private final int maxInFlight;
  private final ProxyConnection connection;
  /** An answer came without leave-notice (a reference node behind the same address): no goodbye. */
  private volatile boolean goodbyeUnsafe;
  /** This agent's own ID, sent on every call, so the proxy can tell agents apart and let it leave. */
  private final String agentId = RequestIds.next();
  private final Duration drainTimeout;
  private final boolean forwardUserId;
  private final int maxHeadBytes;
  private final Semaphore permits;
  private final ExecutorService workers;
  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Object drainLock = new Object();
  private final Map<String, Boolean> seen =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
          return size() > SEEN_IDS;
        }
      };
  private volatile Thread poller;
  /** True while a thread lists requests (v1 polls); at most one does. */
  private final AtomicBoolean listing = new AtomicBoolean(true);
  private final AtomicBoolean fellBack = new AtomicBoolean();
  private final Thread cancelPoller;
  private final AtomicBoolean cancelPolling = new AtomicBoolean();
  private final ConcurrentHashMap<String, CancelSignal> signals = new ConcurrentHashMap<>();
  /** Next pollers alive (extension next-request); each holds a permit while it lives. */
  private final AtomicInteger pollers = new AtomicInteger();
  /** Next pollers inside a poll right now. */
  private final AtomicInteger waitingPolls = new AtomicInteger();
  private final Set<CancelSignal> openPolls = ConcurrentHashMap.newKeySet();
  private volatile boolean connected;
  private volatile long pollSince; // System.nanoTime() when the current poll began; 0 if none
  private static final long HELD_POLL_NANOS = TimeUnit.SECONDS.toNanos(1);

  private DefaultAgentLoop(Builder builder) {
    this.backendId = builder.backendId;
    this.backend = builder.backend;
    this.maxInFlight = builder.maxInFlight;
    this.connection =
        new ProxyConnection(
            builder.proxySet ? builder.proxy.toString() : "(through the injected transport)",
            builder.backendId,
            builder.backoffBase,
            builder.backoffCap);
    this.drainTimeout = builder.drainTimeout;
    this.forwardUserId = builder.forwardUserId;
    this.maxHeadBytes = builder.maxHeadBytes;
    this.ownsTransport = builder.transport == null;
    this.transport =
        builder.transport != null
            ? builder.transport
            : Providers.openAgentTransport(
                new AgentTransportConfig(
                    builder.proxy,
                    builder.backend,
                    builder.pollTimeout,
                    builder.maxInFlight,
                    withAgentId(builder.proxyHeaders, agentId),
                    builder.backendIdleTimeout,
                    builder.backendTotalTimeout,
                    builder.backendKeepAlive));
    this.permits = new Semaphore(maxInFlight);
    AtomicInteger workerCount = new AtomicInteger();
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            maxInFlight,
            maxInFlight,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            runnable -> {
              Thread thread =
                  new Thread(
                      runnable, "inverting-proxy-agent-" + workerCount.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    pool.allowCoreThreadTimeOut(true);
    this.workers = pool;
    this.poller = new Thread(this::pollLoop, "inverting-proxy-agent-poll");
    this.poller.setDaemon(true);
    this.cancelPoller = new Thread(this::cancelLoop, "inverting-proxy-agent-cancel");
    this.cancelPoller.setDaemon(true);
  }

  /** The proxy headers with this agent's ID added (it replaces any the caller gave). */
  private static Supplier<Headers> withAgentId(Supplier<Headers> headers, String agentId) {
    return () -> headers.get().with(ProtocolHeaders.AGENT_ID, agentId);
  }

  /** Returns a new builder. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void start() {
    if (state.compareAndSet(State.NEW, State.RUNNING)) {
      LOGGER.log(
          Level.INFO, () -> "agent for backend " + backendId + " started, forwarding to " + backend);
      poller.start();
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
    long since = pollSince;
    return connected
        || (running() && since != 0 && System.nanoTime() - since > HELD_POLL_NANOS);
  }

  @Override
  public int inFlight() {
    return inFlight.get();
  }

  @Override
  public void close() {
    close(drainTimeout);
  }

  @Override
  public boolean close(Duration timeout) {
    State previous = state.getAndUpdate(s -> s == State.CLOSED ? s : State.DRAINING);
    if (previous == State.CLOSED || previous == State.DRAINING) {
      return inFlight.get() == 0;
    }
    poller.interrupt();
    cancelPoller.interrupt();
    openPolls.forEach(CancelSignal::cancel);
    sayGoodbye();
    boolean drained = awaitDrained(timeout);
    workers.shutdownNow();
    if (ownsTransport) {
      transport.close();
    }
    state.set(State.CLOSED);
    connected = false;
    LOGGER.log(
        Level.INFO,
        () -> "agent for backend " + backendId + " closed" + (drained ? "" : " (requests aborted)"));
    return drained;
  }

  /**
   * Tells the proxy this agent stopped polling (extension {@code leave-notice}), so that, if no
   * other agent serves the backend, new requests get 503 at once rather than wait for a time-out.
   * Requests in flight are still answered. Said only to a proxy that announced the extension in
   * every answer so far: the reference server takes any call for a list call and could hand it a
   * request ID, which would be lost (behind one address, a node of each kind may answer). This
   * project's proxy answers an agent's first poll at once, so the capabilities are known within a
   * round trip of the start. Best effort: a failure only means the proxy notices at the end of the
   * liveness window, as for an agent that died.
   */
  private void sayGoodbye() {
    if (goodbyeUnsafe || !transport.proxyCapabilities().contains(AgentTransport.LEAVE_NOTICE)) {
      return;
    }
    try {
      transport.leave(backendId);
      LOGGER.log(Level.DEBUG, () -> "told the proxy that agent " + agentId + " is going");
    } catch (Exception e) { // OkHttp may throw InterruptedException undeclared
      LOGGER.log(Level.DEBUG, () -> "could not tell the proxy that this agent is going: " + e);
    }
  }

  private boolean awaitDrained(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (drainLock) {
      while (inFlight.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(drainLock, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return true;
  }

  private boolean running() {
    return state.get() == State.RUNNING;
  }

  private void pollLoop() {
    int failures = 0;
    boolean nextRequests = false;
    while (running() && !nextRequests) {
      List<String> ids;
      try {
        pollSince = Math.max(1, System.nanoTime());
        CancelSignal poll = new CancelSignal();
        openPolls.add(poll);
        try {
          if (!running()) {
            break; // close() may have missed this poll
          }
          ids = transport.listPending(backendId, poll);
        } finally {
          openPolls.remove(poll);
        }
        pollSince = 0;
        answered();
        failures = 0;
        if (transport.proxyCapabilities().contains(AgentTransport.CANCEL_NOTICES)
            && cancelPolling.compareAndSet(false, true)) {
          cancelPoller.start(); // this proxy tells us when clients leave
        }
        // This proxy hands requests out in the poll: after these IDs, workers poll themselves.
        nextRequests = transport.proxyCapabilities().contains(AgentTransport.NEXT_REQUEST);
      } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
        pollSince = 0;
        connected = false;
        if (!running() || e instanceof InterruptedException) {
          break;
        }
        failures++;
        if (!pause(connection.failed(e, failures))) {
          break;
        }
        continue;
      }
      for (String id : ids) {
        if (!firstSight(id)) {
          continue;
        }
        // Waits while all workers are busy; the IDs taken stay ours. (With several agents, one
        // offered such an ID again after the proxy's re-offer delay may also serve it.)
        try {
          permits.acquire();
        } catch (InterruptedException interrupted) {
          forget(id);
          return;
        }
        if (!running()) {
          permits.release();
          forget(id);
          return;
        }
        countUp();
        try {
          workers.execute(() -> serve(id));
        } catch (RuntimeException rejected) {
          finished();
          forget(id);
        }
      }
    }
    if (nextRequests && running()) {
      try {
        permits.acquire();
      } catch (InterruptedException interrupted) {
        listing.set(false);
        return;
      }
      listing.set(false); // before the poller starts: it may need to fall back at once
      startPoller();
    } else {
      listing.set(false);
    }
  }

  /**
   * The proxy (a node behind the same address, after a rollback or during a mixed deploy) no
   * longer serves {@code agent/next}: list requests again, as in v1, until a list answer
   * announces the extension again. At most one thread lists.
   */
  private void fallBackToListing(int status) {
    if (!running() || !listing.compareAndSet(false, true)) {
      return;
    }
    // Once at INFO; a load balancer alternating old and new nodes would repeat it.
    Level level = fellBack.getAndSet(true) ? Level.DEBUG : Level.INFO;
    LOGGER.log(
        level,
        () -> "the proxy answered agent/next with " + status + ": listing requests again (v1)");
    try {
      Thread lister = new Thread(this::pollLoop, "inverting-proxy-agent-poll");
      lister.setDaemon(true);
      poller = lister;
      lister.start();
      if (!running()) {
        lister.interrupt(); // close() may have interrupted the previous poller just now
      }
    } catch (RuntimeException | Error e) {
      listing.set(false); // no lister: the next refused poll tries again
      throw e;
    }
  }

  /** Starts a next poller holding a permit the caller acquired. */
  private void startPoller() {
    pollers.incrementAndGet();
    try {
      workers.execute(this::nextLoop);
    } catch (RuntimeException rejected) {
      pollers.decrementAndGet();
      permits.release();
    }
  }

  /** Statuses saying a proxy has no {@code agent/next}: not found, method not allowed, not implemented. */
  private static final Set<Integer> NOT_SERVED = Set.of(404, 405, 501);

  private static void closeQuietly(WireMessage wire) {
    try {
      wire.close();
    } catch (IOException | RuntimeException ignored) {
      // nothing to keep from it
    }
  }

  /**
   * A worker of the extension {@code next-request}: polls {@code agent/next}, which answers with
   * a claimed request, serves it, and polls again. While it serves, another poller is started if
   * none is waiting and a permit is free, so a poll stays open while there is capacity; a poller
   * whose poll ended empty while another waits retires, so an idle agent keeps one poll open.
   */
  private void nextLoop() {
    int failures = 0;
    int notServed = 0;
    try {
      while (running()) {
        WireMessage wire;
        CancelSignal poll = new CancelSignal();
        openPolls.add(poll);
        waitingPolls.incrementAndGet();
        try {
          if (!running()) {
            return; // close() may have missed this poll
          }
          wire = transport.nextRequest(backendId, poll);
          answered();
          failures = 0;
        } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
          if (!running() || poll.isCancelled() || e instanceof InterruptedException) {
            return;
          }
          if (e instanceof ProxyCallException refused
              && refused.status() == 429
              && waitingPolls.get() > 1) {
            return; // the proxy has enough of our polls, and another one is open
          }
          if (e instanceof ProxyCallException refused && NOT_SERVED.contains(refused.status())) {
            notServed = refused.status();
            return; // no agent/next here (any more): back to listing, below
          }
          // Otherwise this poller retries, with back-off: retiring on errors could leave none.
          connected = false;
          failures++;
          if (!pause(connection.failed(e, failures))) {
            return;
          }
          continue;
        } finally {
          waitingPolls.decrementAndGet();
          openPolls.remove(poll);
        }
        if (wire == null) {
          if (waitingPolls.get() > 0) {
            return; // another poll is open: one is enough while idle
          }
          continue;
        }
        Optional<String> requestId = wire.headers().first(ProtocolHeaders.REQUEST_ID);
        if (requestId.isEmpty()) {
          // Not an agent/next answer: a server that takes any call for a list call (the reference
          // server, behind the same address in a mixed deploy). Never poll it in a loop.
          closeQuietly(wire);
          notServed = 200;
          return;
        }
        if (waitingPolls.get() == 0 && running() && permits.tryAcquire()) {
          startPoller(); // keep a poll open while this worker serves
        }
        String id = requestId.get();
        countUp();
        try {
          handle(id, wire);
        } finally {
          countDown();
        }
      }
    } finally {
      pollers.decrementAndGet();
      permits.release();
      if (notServed != 0) {
        fallBackToListing(notServed);
      }
    }
  }

  /**
   * Long-polls the proxy's cancel notices (extension {@code cancel-notices}) while requests are in
   * flight, and aborts the backend calls of requests whose clients left.
   */
  private void cancelLoop() {
    int failures = 0;
    while (running()) {
      // Only while requests are in flight: nothing can be cancelled otherwise, and an idle agent
      // then holds one connection to the proxy, not two.
      synchronized (drainLock) {
        while (running() && inFlight.get() == 0) {
          try {
            drainLock.wait();
          } catch (InterruptedException interrupted) {
            return;
          }
        }
      }
      try {
        for (String id : transport.listCancelled(backendId)) {
          CancelSignal signal = signals.get(id);
          if (signal != null) {
            LOGGER.log(Level.DEBUG, () -> "[" + id + "] the client left: aborting the backend call");
            signal.cancel();
          }
        }
        failures = 0;
      } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
        if (!running() || e instanceof InterruptedException) {
          return;
        }
        failures++;
        // The list or next polls report the connection's state; this one only waits alike.
        if (!pause(connection.waitAfter(e, failures))) {
          return;
        }
      }
    }
  }

  /**
   * A poll was answered: the agent is connected; and a proxy that did not announce leave-notice
   * is never told goodbye.
   */
  private void answered() {
    connected = true;
    connection.connected();
    if (!transport.proxyCapabilities().contains(AgentTransport.LEAVE_NOTICE)) {
      goodbyeUnsafe = true;
    }
  }

  /** Sleeps before the next attempt; false if interrupted meanwhile (the agent stops). */
  private static boolean pause(long millis) {
    try {
      Thread.sleep(millis);
      return true;
    } catch (InterruptedException interrupted) {
      return false;
    }
  }

  private boolean firstSight(String id) {
    synchronized (seen) {
      return seen.put(id, Boolean.TRUE) == null;
    }
  }

  private void forget(String id) {
    synchronized (seen) {
      seen.remove(id);
    }
  }

  private void finished() {
    // Count down before handing the permit back, so inFlight never exceeds maxInFlight.
    countDown();
    permits.release();
  }

  private void countUp() {
    if (inFlight.incrementAndGet() == 1) {
      synchronized (drainLock) {
        drainLock.notifyAll(); // the cancel-notice poll runs while requests are in flight
      }
    }
  }

  private void countDown() {
    if (inFlight.decrementAndGet() == 0) {
      synchronized (drainLock) {
        drainLock.notifyAll();
      }
    }
  }

  /** Serves a request listed by a v1 poll: reads it, then handles it. */
  private void serve(String id) {
    try {
      WireMessage wire = read(id);
      if (wire != null) {
        handle(id, wire);
      }
    } finally {
      finished();
    }
  }

  /** Forwards a request read from the proxy to the backend and posts the backend's response. */
  private void handle(String id, WireMessage wire) {
    CancelSignal signal = new CancelSignal();
    signals.put(id, signal);
    try {
      try (wire) {
        HttpMessageReader reader = new HttpMessageReader(wire.body(), maxHeadBytes);
        RequestHead head = reader.readRequestHead();
        MessageBody body = reader.requestBody(head);
        RequestHead forwarded = head;
        if (forwardUserId) {
          Headers headers = head.headers().without(ProtocolHeaders.USER_ID);
          String user = wire.headers().first(ProtocolHeaders.USER_ID).orElse("");
          if (!user.isEmpty()) {
            headers = headers.toBuilder().add(ProtocolHeaders.USER_ID, user).build();
          }
          forwarded = head.withHeaders(headers);
        }
        RequestHead request = forwarded;
        transport.postResponse(backendId, id, out -> forward(id, request, body, out, signal));
      }
    } catch (ProxyCallException e) {
      // 404 or 410: the client left, or the request was cancelled or expired; routine, not a fault
      Level level = e.status() == 404 || e.status() == 410 ? Level.INFO : Level.WARNING;
      LOGGER.log(level, () -> "[" + id + "] response not delivered: " + e.getMessage());
    } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
      boolean stopping = !running() || e instanceof InterruptedException;
      LOGGER.log(
          stopping ? Level.DEBUG : Level.WARNING,
          () -> "[" + id + "] failed" + (stopping ? " (the agent stops)" : "") + ": " + e);
    } finally {
      signals.remove(id);
    }
  }

  /**
   * Reads the request, retrying a failed read twice (the proxy serves a read again until the body
   * has started to stream). Returns null if the proxy refused it or every attempt failed.
   */
  private @Nullable WireMessage read(String id) {
    for (int attempt = 1; ; attempt++) {
      try {
        return transport.readRequest(backendId, id);
      } catch (ProxyCallException e) {
        if (e.status() < 500 || attempt == READ_ATTEMPTS) {
          LOGGER.log(
              Level.DEBUG, () -> "[" + id + "] read refused: " + e.status() + " " + e.getMessage());
          return null;
        }
      } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
        if (!running() || e instanceof InterruptedException) {
          LOGGER.log(Level.DEBUG, () -> "[" + id + "] read abandoned: the agent stops");
          return null;
        }
        if (attempt == READ_ATTEMPTS) {
          LOGGER.log(Level.WARNING, () -> "[" + id + "] read failed: " + e);
          return null;
        }
      }
      try {
        Thread.sleep(connection.transientWait(attempt));
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        return null;
      }
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
      handleUnanswered(id, head, out, e);
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
  private void handleUnanswered(String id, RequestHead head, OutputStream out, IOException failure)
      throws IOException {
    // A read time-out (SocketTimeoutException) or the call time-out is an InterruptedIOException.
    boolean silent = failure instanceof InterruptedIOException;
    LOGGER.log(
        Level.WARNING,
        () -> "[" + id + "] backend " + backend + (silent ? " silent: " : " unreachable: ") + failure);
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
    TextResponses.TextResponse error = TextResponses.of(status, reason, Headers.empty());
    HttpMessageWriter.writeResponse(out, error.head(), error.body(), method);
  }

  /**
   * Builds a {@link DefaultAgentLoop}.
   *
   * <p>This class is not thread-safe.
   */
  public static final class Builder {
    private @Nullable URI proxy;
    private boolean proxySet;
    private @Nullable String backendId;
    private URI backend = URI.create("http://localhost:8080");
    private @Nullable AgentTransport transport;
    private Duration pollTimeout = Duration.ofSeconds(60);
    private int maxInFlight = 64;
    private Duration backoffBase = Duration.ofMillis(100);
    private Duration backoffCap = Duration.ofSeconds(3);
    private Duration drainTimeout = Duration.ofSeconds(30);
    private boolean forwardUserId;
    private int maxHeadBytes = 64 * 1024;
    private Supplier<Headers> proxyHeaders = Headers::empty;
    private Duration backendIdleTimeout = AgentTransportConfig.DEFAULT_BACKEND_IDLE;
    private Duration backendTotalTimeout = Duration.ZERO;
    private Duration backendKeepAlive = AgentTransportConfig.DEFAULT_BACKEND_KEEP_ALIVE;

    private Builder() {}

    /** The proxy's agent base URL, e.g. {@code https://proxy.example/}; required. */
    public Builder proxy(URI proxy) {
      this.proxy = Objects.requireNonNull(proxy, "proxy");
      return this;
    }

    /** The backend ID this agent serves; required. */
    public Builder backendId(String backendId) {
      Objects.requireNonNull(backendId, "backendId");
      if (backendId.isBlank()) {
        throw new IllegalArgumentException("backendId is blank");
      }
      this.backendId = backendId;
      return this;
    }

    /** The private backend, {@code http://host:port}; default {@code http://localhost:8080}. */
    public Builder backend(URI backend) {
      this.backend = Objects.requireNonNull(backend, "backend");
      return this;
    }

    /** Uses {@code transport} instead of the discovered one; the caller closes it. */
    public Builder transport(AgentTransport transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** The agent side's bound on one long poll; default 60 s (above the proxy's 25 s). */
    public Builder pollTimeout(Duration timeout) {
      this.pollTimeout = Checks.positive(timeout, "pollTimeout");
      return this;
    }

    /** How many requests are forwarded at once; default 64. */
    public Builder maxInFlight(int max) {
      this.maxInFlight = Checks.inRange(max, 1, 10_000, "maxInFlight");
      return this;
    }

    /**
     * The longest the backend may stay silent during an exchange (no byte read or written) before
     * the agent gives up on it; {@link Duration#ZERO} for no limit; default 5 min. A response that
     * keeps producing bytes is never cut, however long it lasts.
     */
    public Builder backendIdleTimeout(Duration timeout) {
      this.backendIdleTimeout = Checks.notNegative(timeout, "backendIdleTimeout");
      return this;
    }

    /**
     * An optional bound on a whole exchange with the backend, body included: past it the backend
     * call is aborted (a 504 before the head, a cut response after). {@link Duration#ZERO}, the
     * default, means none.
     */
    public Builder backendTotalTimeout(Duration timeout) {
      this.backendTotalTimeout = Checks.notNegative(timeout, "backendTotalTimeout");
      return this;
    }

    /**
     * How long an idle connection to the backend is kept for the next request; {@link
     * Duration#ZERO} to use each once; default 1 s. Keep it below the backend's own idle time-out
     * (see {@link AgentTransportConfig#backendKeepAlive()}).
     */
    public Builder backendKeepAlive(Duration keepAlive) {
      this.backendKeepAlive = Checks.notNegative(keepAlive, "backendKeepAlive");
      return this;
    }

    /** Poll error back-off: full jitter over base·2^n, capped; default 100 ms and 3 s. */
    public Builder backoff(Duration base, Duration cap) {
      Objects.requireNonNull(base, "base");
      Objects.requireNonNull(cap, "cap");
      if (base.isNegative() || base.isZero() || cap.compareTo(base) < 0) {
        throw new IllegalArgumentException("need 0 < base <= cap, got " + base + " and " + cap);
      }
      this.backoffBase = base;
      this.backoffCap = cap;
      return this;
    }

    /** How long {@link #close()} waits for in-flight requests; default 30 s. */
    public Builder drainTimeout(Duration timeout) {
      this.drainTimeout = Checks.notNegative(timeout, "drainTimeout");
      return this;
    }

    /**
     * Passes the proxy's {@code X-Inverting-Proxy-User-ID} on to the backend, replacing any such
     * header in the request; default off.
     */
    public Builder forwardUserId(boolean forward) {
      this.forwardUserId = forward;
      return this;
    }

    /**
     * Headers added to every call to the proxy (credentials), asked for per call; see {@link
     * AgentCredentials} for refreshing tokens and token files.
     */
    public Builder proxyHeaders(Supplier<Headers> headers) {
      this.proxyHeaders = Objects.requireNonNull(headers, "headers");
      return this;
    }

    /** Sends {@code Authorization: Bearer <token>} on every call to the proxy. */
    public Builder bearerToken(String token) {
      this.proxyHeaders = AgentCredentials.bearer(token);
      return this;
    }

    /** Maximum size of a parked request's head as read from the proxy; default 64 KiB. */
    public Builder maxHeadBytes(int bytes) {
      this.maxHeadBytes = Checks.inRange(bytes, 1024, 1024 * 1024, "maxHeadBytes");
      return this;
    }

    /**
     * Builds the agent (not started).
     *
     * @throws IllegalStateException if the proxy or backend ID is missing
     * @throws dev.invertingproxy.ProviderNotFoundException if no transport was given or found
     */
    public DefaultAgentLoop build() {
      if (backendId == null) {
        throw new IllegalStateException("backendId is required");
      }
      if (transport == null && proxy == null) {
        throw new IllegalStateException("proxy is required");
      }
      proxySet = proxy != null;
      if (proxy == null) {
        proxy = URI.create("http://unused/");
      }
      return new DefaultAgentLoop(this);
    }
  }
}
