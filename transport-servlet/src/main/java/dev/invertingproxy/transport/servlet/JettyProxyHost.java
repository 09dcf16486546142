package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.ProxyEngine;
import java.util.Objects;
import java.time.Duration;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.HttpConfiguration;

/**
 * Jetty 12 (ee10) set up as a proxy host must be, for applications that embed Jetty. Optional:
 * this class needs Jetty on the class path, nothing else in this module does.
 *
 * <pre>{@code
 * Server server = new Server();
 * ServerConnector connector = new ServerConnector(
 *     server, new HttpConnectionFactory(JettyProxyHost.httpConfiguration(engine)));
 * connector.setIdleTimeout(JettyProxyHost.IDLE_TIMEOUT.toMillis());
 * server.addConnector(connector);
 * server.setHandler(JettyProxyHost.servletContext(engine)); // agents at /agent/*, clients at /*
 * server.start();
 * }</pre>
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class JettyProxyHost {
  /**
   * A connection idle time-out for proxy hosts: above the engine's long poll (25 s) and response
   * wait (60 s); a download that keeps flowing is never cut by it.
   */
  public static final Duration IDLE_TIMEOUT = Duration.ofMinutes(2);

  private JettyProxyHost() {}

  /**
   * Returns an HTTP configuration for {@code engine}: raw targets such as {@code %2F} let through,
   * header names kept in the client's case, no {@code Server} or {@code Date} header added to
   * relayed responses, and request and response header limits taken from the engine ({@link
   * ProxyEngine#containerHeadLimit()}), so that every head the engine accepts passes Jetty (whose
   * own default is 8 KiB) and a head over the engine's limit gets the engine's 431 with its reason.
   */
  public static HttpConfiguration httpConfiguration(ProxyEngine engine) {
    return httpConfiguration(engine.containerHeadLimit());
  }

  /**
   * Like {@link #httpConfiguration(ProxyEngine)}, for an engine with the default head limit (32
   * KiB). Prefer the other form: an engine built with another {@code maxHeadBytes} needs it.
   */
  public static HttpConfiguration httpConfiguration() {
    return httpConfiguration(ProxyEngine.DEFAULT_MAX_HEAD_BYTES + ProxyEngine.CONTAINER_HEAD_SLACK);
  }

  private static HttpConfiguration httpConfiguration(int headLimit) {
    HttpConfiguration config = new HttpConfiguration();
    config.setRequestHeaderSize(headLimit);
    config.setResponseHeaderSize(headLimit);
    config.setSendServerVersion(false);
    config.setSendDateHeader(false);
    config.setUriCompliance(UriCompliance.LEGACY);
    config.setHttpCompliance(
        HttpCompliance.RFC9110.with("proxy", HttpCompliance.Violation.CASE_SENSITIVE_FIELD_NAME));
    return config;
  }

  /**
   * Returns a context at {@code /} with {@link AgentServlet} at {@code /agent/*} (agents use
   * {@code --proxy http://host:port/}) and {@link ProxyServlet} for every other path, both
   * asynchronous; end users are the servlet principal.
   */
  public static ServletContextHandler servletContext(ProxyEngine engine) {
    return servletContext(engine, ProxyServlet.UserResolver.PRINCIPAL);
  }

  /** Like {@link #servletContext(ProxyEngine)}, identifying end users with {@code users}. */
  public static ServletContextHandler servletContext(
      ProxyEngine engine, ProxyServlet.UserResolver users) {
    return context(engine, users);
  }

  /**
   * Like {@link #servletContext(ProxyEngine, ProxyServlet.UserResolver)}, plus the admin REST API
   * ({@link AdminServlet} over {@code engine.storage().registry()}) at {@code /api/*}: {@code GET}
   * and {@code POST /api/backends}, {@code DELETE /api/backends/{id}}. Paths under {@code /api/},
   * like those under {@code /agent/}, are then never relayed to a backend.
   *
   * @param admins authenticates <em>admins</em> (not agents) from the headers of an admin call;
   *     {@link AgentAuthenticator#denyAll()} answers every admin call 401
   */
  public static ServletContextHandler servletContext(
      ProxyEngine engine, ProxyServlet.UserResolver users, AgentAuthenticator admins) {
    Objects.requireNonNull(admins, "admins");
    ServletContextHandler context = context(engine, users);
    context.addServlet(
        new ServletHolder("admin", new AdminServlet(engine.storage().registry(), admins)),
        "/api/*");
    return context;
  }

  private static ServletContextHandler context(
      ProxyEngine engine, ProxyServlet.UserResolver users) {
    ServletContextHandler context = new ServletContextHandler("/");
    context.getServletHandler().setDecodeAmbiguousURIs(true); // raw targets, e.g. %2F
    ServletHolder agents = new ServletHolder("agents", new AgentServlet(engine));
    agents.setAsyncSupported(true);
    context.addServlet(agents, "/agent/*");
    ServletHolder clients = new ServletHolder("clients", new ProxyServlet(engine, users));
    clients.setAsyncSupported(true);
    context.addServlet(clients, "/*");
    return context;
  }
}
