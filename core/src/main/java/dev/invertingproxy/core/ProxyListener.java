package dev.invertingproxy.core;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What happens on a proxy node, as events: each client request once it is over, agents as they
 * connect and disconnect, and agent calls the proxy refused. The engine logs these through {@link
 * LoggingProxyListener} (always, with the access log off unless asked for); add your own with
 * {@link ProxyEngine.Builder#listener} for metrics or audits.
 *
 * <p>Events are about this node: with several nodes on one storage, an agent polling another node
 * is reported there. Every method has an empty default, so a listener implements what it needs.
 *
 * <p>Implementations must be thread-safe and quick: they run on the engine's threads (container
 * threads, the timer, storage threads), never on one of their own. A listener that throws is
 * logged and otherwise ignored; it never changes what a client or an agent gets.
 *
 * @since 0.1
 */
public interface ProxyListener {

  /**
   * A client request is over: answered (by the backend, or by the proxy itself with an error),
   * cut mid-response, or withdrawn because its client left before the answer.
   */
  default void requestEnded(RequestEvent event) {}

  /** An agent this node had not seen (or not since it left) made an authorized call. */
  default void agentConnected(AgentEvent event) {}

  /**
   * An agent left: it said it was going ({@code left} true: it stopped cleanly), or made no call
   * for the liveness window (long poll + grace, 30 s by default) while holding no poll.
   */
  default void agentDisconnected(AgentEvent event, boolean left) {}

  /** An agent call was refused: no valid credential (401) or no authority for the backend (403). */
  default void agentRefused(AgentRefusal refusal) {}

  /**
   * One client request, once it is over.
   *
   * @param start when the proxy received the request head
   * @param clientAddress the client's IP address as the container reports it
   * @param method the request method
   * @param target the raw request target
   * @param backendId the backend it was routed to, or null if it was answered before routing
   * @param status the status sent to the client, or 0 if none was (the client left first)
   * @param bytes response body bytes written to the client
   * @param duration from the request head to the end of the response
   * @param complete false if the response was cut (the backend, the agent or the client failed
   *     mid-body) or never sent
   * @param reason why the proxy answered as it did (its own errors, a cut response, a client that
   *     left), or null for a response the backend gave
   */
  record RequestEvent(
      Instant start,
      String clientAddress,
      String method,
      String target,
      @Nullable String backendId,
      int status,
      long bytes,
      Duration duration,
      boolean complete,
      @Nullable String reason) {
    public RequestEvent {
      Objects.requireNonNull(start, "start");
      Objects.requireNonNull(clientAddress, "clientAddress");
      Objects.requireNonNull(method, "method");
      Objects.requireNonNull(target, "target");
      Objects.requireNonNull(duration, "duration");
    }
  }

  /**
   * An agent as this node sees it.
   *
   * @param backendId the backend it acts for
   * @param identity who it authenticated as ({@code token-1}, an e-mail, ...)
   * @param address its IP address as the container reports it
   * @param agentId the ID it names itself with ({@code X-Inverting-Proxy-Agent-ID}), or empty for
   *     agents that send none (the reference agent)
   */
  record AgentEvent(String backendId, String identity, String address, String agentId) {
    public AgentEvent {
      Objects.requireNonNull(backendId, "backendId");
      Objects.requireNonNull(identity, "identity");
      Objects.requireNonNull(address, "address");
      Objects.requireNonNull(agentId, "agentId");
    }
  }

  /**
   * A refused agent call.
   *
   * @param status 401 (no valid credential) or 403 (no authority for the backend)
   * @param reason the reason sent to the agent
   * @param address the caller's IP address
   * @param backendId the backend it asked for, or null if it named none
   * @param identity who it authenticated as, or null for a 401
   */
  record AgentRefusal(
      int status,
      String reason,
      String address,
      @Nullable String backendId,
      @Nullable String identity) {
    public AgentRefusal {
      Objects.requireNonNull(reason, "reason");
      Objects.requireNonNull(address, "address");
    }
  }
}
