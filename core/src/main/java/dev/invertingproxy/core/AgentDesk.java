package dev.invertingproxy.core;

import dev.invertingproxy.AgentFailedException;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.ClaimedRequest;
import dev.invertingproxy.ForbiddenException;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.TooManyPollsException;
import dev.invertingproxy.core.AgentAuthorization.Authorized;
import dev.invertingproxy.core.internal.ObservedBody;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import dev.invertingproxy.core.internal.wire.HttpMessageWriter;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import dev.invertingproxy.core.spi.AgentCall;
import dev.invertingproxy.core.spi.AgentReadSink;
import dev.invertingproxy.core.spi.NextRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The agent side of a {@link ProxyEngine}: serves the agents' calls, each authorized first ({@link
 * AgentAuthorization}). Polls: list polls ({@link #pending}), cancel polls ({@link #cancelled})
 * and next polls ({@link #next}), each counted in its agent's session and presence, and at most
 * {@code maxPollsPerBackend} of one kind waiting at once per backend (429 beyond). Claims, and the
 * one way a claimed request is written to an agent, for a read ({@link #readRequest}) and a next
 * poll alike ({@code ClaimedForAgent}, which also gives it back). Posts ({@link #postResponse}),
 * relayed to the waiting client through the storage, and goodbyes ({@link #leave}). It reaches a
 * client only through the storage: whether a client request is answered is for {@link ClientRelay}
 * to know.
 *
 * <p>A next poll asks the broker for one ID and claims the first claimable of those it gets. IDs
 * beyond it (from a broker that ignores the bound) are not kept on this node: they stay pending,
 * and the broker offers them again after its re-offer delay.
 *
 * <p>This class is thread-safe.
 */
final class AgentDesk {
  /** Logs under the engine's name, as before the engine was split: log settings name it. */
  private static final System.Logger LOGGER = System.getLogger(ProxyEngine.class.getName());

  private final RequestBroker broker;
  private final AgentPresence presence;
  private final AgentSessions sessions;
  private final AgentAuthorization authorization;
  private final Clock clock;
  private final Duration longPollTimeout;
  private final int maxHeadBytes;
  private final int maxPollsPerBackend;
  private final ConcurrentHashMap<String, AtomicInteger> pollsByBackend = new ConcurrentHashMap<>();

  /**
   * A desk that serves agents from {@code broker}.
   *
   * @param longPollTimeout how long a poll waits for work before it is answered empty
   * @param maxHeadBytes the largest response head an agent may post
   * @param maxPollsPerBackend how many polls of one kind may wait at once per backend
   */
  AgentDesk(
      RequestBroker broker,
      AgentPresence presence,
      AgentSessions sessions,
      AgentAuthorization authorization,
      Clock clock,
      Duration longPollTimeout,
      int maxHeadBytes,
      int maxPollsPerBackend) {
    this.broker = broker;
    this.presence = presence;
    this.sessions = sessions;
    this.authorization = authorization;
    this.clock = clock;
    this.longPollTimeout = longPollTimeout;
    this.maxHeadBytes = maxHeadBytes;
    this.maxPollsPerBackend = maxPollsPerBackend;
  }

  /** See {@link ProxyEngine#pending}. */
  CompletableFuture<List<String>> pending(AgentCall call) {
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
    Authorized agent = authorization.authorize(call);
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

  /** See {@link ProxyEngine#cancelled}. */
  CompletableFuture<List<String>> cancelled(AgentCall call) {
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
      throw new TooManyPollsException(
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

  /** See {@link ProxyEngine#readRequest}. */
  void readRequest(AgentCall call, AgentReadSink sink) throws IOException {
    Authorized agent = authorization.authorize(call);
    sessions.active(agent.event(call), false);
    String backend = agent.backend();
    String id = requireRequestId(call.requestId());
    new ClaimedForAgent(backend, broker.claim(backend, id)).writeTo(sink);
  }

  /** See {@link ProxyEngine#next}. */
  CompletableFuture<Optional<NextRequest>> next(AgentCall call) {
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
              return broker.awaitPending(backend, longPollTimeout, 1); // one poll, one request
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

  /**
   * Claims the first claimable of {@code ids} (a next poll asks the broker for one; a broker that
   * ignores the bound may hand over more). IDs after the one claimed are not kept: they stay
   * pending, and the broker offers them again after its re-offer delay.
   */
  private @Nullable ClaimedForAgent claimFirst(String backend, List<String> ids) {
    for (String id : ids) {
      ClaimedRequest claimed;
      try {
        claimed = broker.claim(backend, id);
      } catch (InvertingProxyException gone) {
        continue; // the client left, or another agent holds it
      }
      return new ClaimedForAgent(backend, claimed);
    }
    return null;
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

  /** See {@link ProxyEngine#postResponse}. */
  void postResponse(AgentCall call, InputStream wire) throws IOException {
    Authorized agent = authorization.authorize(call);
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

  /** See {@link ProxyEngine#leave}. */
  void leave(AgentCall call) {
    Authorized agent = authorization.authorize(call);
    String agentId = call.agentId();
    if (agentId.isEmpty()) {
      throw new BadRequestException("missing header " + ProtocolHeaders.AGENT_ID);
    }
    // Marked first: a poll of this agent registering meanwhile sees it and ends itself.
    sessions.left(agent.event(call));
    presence.left(agent.backend(), agentId, clock.instant());
  }

  private static String requireRequestId(@Nullable String requestId) {
    if (requestId == null || requestId.isBlank()) {
      throw new BadRequestException("missing header " + ProtocolHeaders.REQUEST_ID);
    }
    return requestId;
  }
}
