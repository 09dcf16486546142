package dev.invertingproxy.core;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.ForbiddenException;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import dev.invertingproxy.core.spi.AgentCall;
import java.util.Optional;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Who may make an agent call, checked on every one: the agent proves an identity ({@link
 * AgentAuthenticator}; 401 without a valid credential) and may act only for a backend whose record
 * names that identity; once backends are registered, only for a registered one (403). Each refusal
 * is reported to the listeners ({@link ProxyListener#agentRefused}) before it is thrown.
 *
 * <p>This class is thread-safe.
 */
final class AgentAuthorization {
  private final AgentAuthenticator authenticator;
  private final BackendRegistry registry;
  private final ProxyEvents events;

  /** Checks agents with {@code authenticator} against the records of {@code registry}. */
  AgentAuthorization(
      AgentAuthenticator authenticator, BackendRegistry registry, ProxyEvents events) {
    this.authenticator = authenticator;
    this.registry = registry;
    this.events = events;
  }

  /** An authorized agent call: the backend it acts for and the identity it proved. */
  record Authorized(String backend, String identity) {
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
  Authorized authorize(AgentCall call) {
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
}
