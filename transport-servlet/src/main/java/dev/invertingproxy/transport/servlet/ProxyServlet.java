package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.core.ErrorMapping;
import dev.invertingproxy.core.ProxyEngine;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The client-facing endpoint: every request that reaches this servlet, whatever its method (but
 * {@code CONNECT}), is parked for an agent and answered with the backend's response. No container thread waits: the
 * request is suspended with {@link HttpServletRequest#startAsync()} until the response arrives.
 *
 * <p>The backend sees the full original request target (not stripped of the servlet's mapping).
 * Requests that cannot be relayed faithfully are answered 400 at once: {@code CONNECT}, and a
 * {@code Transfer-Encoding} other than {@code chunked}. Register the servlet with {@code asyncSupported=true}, like every filter in front of it.
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
      response.setStatus(500);
      response.setContentType("text/plain;charset=utf-8");
      response
          .getOutputStream()
          .write(
              ("the proxy servlet and every filter before it must be registered with"
                      + " asyncSupported=true\n")
                  .getBytes(StandardCharsets.UTF_8));
      return;
    }
    Optional<InvertingProxyException> refusal = refusal(request);
    if (refusal.isPresent()) {
      PlainAnswers.error(
          response,
          ErrorMapping.status(refusal.get()),
          ErrorMapping.reason(refusal.get()),
          Headers.of("Connection", "close"));
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
   * Why the container's view of this request cannot be relayed faithfully, if it cannot (answered
   * at once; nothing reaches an agent):
   *
   * <ul>
   *   <li>a transfer coding other than {@code chunked} (such as {@code gzip, chunked}): containers
   *       remove the chunked coding only, so the body would reach the backend still coded, framed
   *       as plain chunked;
   *   <li>{@code CONNECT}: a tunnel, which a relay of requests cannot carry (Jetty even reports
   *       its authority-form target, {@code host:port}, as {@code /}).
   * </ul>
   */
  private static Optional<InvertingProxyException> refusal(HttpServletRequest request) {
    if ("CONNECT".equals(request.getMethod())) {
      return Optional.of(
          new BadRequestException("CONNECT is not supported: the proxy relays requests, not tunnels"));
    }
    List<String> codings = new ArrayList<>();
    for (String field : Collections.list(request.getHeaders("Transfer-Encoding"))) {
      for (String coding : field.split(",", -1)) {
        codings.add(coding.strip());
      }
    }
    if (!codings.isEmpty() && !(codings.size() == 1 && codings.get(0).equalsIgnoreCase("chunked"))) {
      return Optional.of(
          new MalformedMessageException(
              "unsupported Transfer-Encoding \""
                  + String.join(", ", codings)
                  + "\": only chunked request bodies are relayed"));
    }
    return Optional.empty();
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
