package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.core.ProxyEngine;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.security.Principal;
import java.util.Objects;
import java.util.Optional;

/**
 * The client-facing endpoint: every request that reaches this servlet is handed to the engine,
 * which parks it for an agent and answers with the backend's response (or refuses it: see {@link
 * ProxyEngine#handle}). No container thread waits: the request is suspended with {@link
 * HttpServletRequest#startAsync()} until the response arrives.
 *
 * <p>The backend sees the full original request target (not stripped of the servlet's mapping).
 * Register the servlet with {@code asyncSupported=true}, like every filter in front of it.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public class ProxyServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  private final transient ProxyEngine engine;
  private final transient UserResolver users;

  /** Serves clients through {@code engine}; the end user is the servlet principal's name. */
  public ProxyServlet(ProxyEngine engine) {
    this(engine, UserResolver.PRINCIPAL);
  }

  /** Serves clients through {@code engine}, identifying end users with {@code users}. */
  public ProxyServlet(ProxyEngine engine, UserResolver users) {
    this.engine = Objects.requireNonNull(engine, "engine");
    this.users = Objects.requireNonNull(users, "users");
  }

  @Override
  protected void service(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    if (!request.isAsyncSupported()) {
      // Explicit: a deployment mistake, not a failure of a call that an exception type names.
      PlainAnswers.error(
          response,
          500,
          "the proxy servlet and every filter before it must be registered with"
              + " asyncSupported=true");
      return;
    }
    ContainerSupport support = ContainerSupport.of(request);
    AsyncContext async = request.startAsync();
    async.setTimeout(0); // the engine's own timers bound the wait
    ServletClientExchange exchange =
        new ServletClientExchange(request, response, async, support, users.userOf(request));
    try {
      exchange.parked(engine.handle(exchange));
    } catch (RuntimeException | Error e) {
      // Never leave a suspended client waiting for nothing.
      exchange.failUnanswered(e);
      throw e;
    }
  }

  /**
   * Tells who the end user of a request is.
   *
   * <p>Implementations must be thread-safe.
   */
  @FunctionalInterface
  public interface UserResolver {
    /** The servlet principal's name, if the host application authenticated the request. */
    UserResolver PRINCIPAL =
        request -> Optional.ofNullable(request.getUserPrincipal()).map(Principal::getName);

    /** Returns the end user's identity, or empty if anonymous. */
    Optional<String> userOf(HttpServletRequest request);
  }
}
