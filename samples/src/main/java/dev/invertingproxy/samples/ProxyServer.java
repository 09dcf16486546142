package dev.invertingproxy.samples;

import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.transport.servlet.AgentServlet;
import dev.invertingproxy.transport.servlet.JettyProxyHost;
import dev.invertingproxy.transport.servlet.ProxyServlet;
import java.net.BindException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The proxy in embedded Jetty 12: {@link AgentServlet} at {@code /agent/*} (agents use {@code
 * --proxy http://host:port/}), optionally the admin API at {@code /api/*}, {@link ProxyServlet} for
 * every other path. Jetty is set up as a proxy
 * host must be: raw targets such as {@code %2F} let through, header names kept in the client's
 * case, no {@code Server} or {@code Date} header added, idle time-out far above the long poll.
 */
final class ProxyServer implements AutoCloseable {
  /** Above the engine's 25 s long poll and the 60 s response wait; never cuts a live download. */
  static final Duration IDLE_TIMEOUT = JettyProxyHost.IDLE_TIMEOUT;

  /** Digits and dots (IPv4) or hex digits, colons and dots (IPv6): never a host name to look up. */
  private static final Pattern IP_LITERAL =
      Pattern.compile("[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");

  private final Server server;
  private final String host;
  private final int port;

  private ProxyServer(Server server, String host, int port) {
    this.server = server;
    this.host = host;
    this.port = port;
  }

  /**
   * Starts Jetty on {@code host:port} ({@code port} 0 picks a free one).
   *
   * @throws Exception if Jetty does not start, e.g. a {@link BindException} cause if the port is
   *     taken; nothing is left running then
   */
  static ProxyServer start(ProxyEngine engine, String host, int port) throws Exception {
    return start(engine, host, port, null);
  }

  /**
   * Like {@link #start(ProxyEngine, String, int)}, plus the admin API at {@code /api/*} if {@code
   * admins} is not null (paths under {@code /api/} are then never relayed).
   */
  static ProxyServer start(
      ProxyEngine engine, String host, int port, AgentAuthenticator admins)
      throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(200, 8);
    threads.setName("proxy");
    Server server = new Server(threads);
    ServerConnector connector =
        new ServerConnector(server, new HttpConnectionFactory(JettyProxyHost.httpConfiguration(engine)));
    connector.setHost(host);
    connector.setPort(port);
    connector.setIdleTimeout(IDLE_TIMEOUT.toMillis());
    server.addConnector(connector);
    server.setHandler(
        admins == null
            ? JettyProxyHost.servletContext(engine)
            : JettyProxyHost.servletContext(engine, ProxyServlet.UserResolver.PRINCIPAL, admins));
    server.setStopTimeout(5_000);
    JettyServers.startOrStop(server);
    return new ProxyServer(server, host, connector.getLocalPort());
  }

  /**
   * Returns true if {@code failure} or one of its causes says the port is in use ("Address already
   * in use"), not that the address cannot be had ("Cannot assign requested address").
   */
  static boolean isPortInUse(Throwable failure) {
    return bindFailure(failure)
        .map(t -> String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT).contains("in use"))
        .orElse(false);
  }

  /** The {@link BindException} in {@code failure}'s causes, if any. */
  static Optional<BindException> bindFailure(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof BindException bind) {
        return Optional.of(bind);
      }
    }
    return Optional.empty();
  }

  /** The port Jetty listens on. */
  int port() {
    return port;
  }

  /**
   * {@code http://host:port/}, the proxy's URL for clients and agents alike; for a wildcard address
   * ({@code 0.0.0.0}, {@code ::}: all interfaces) the loopback address, which works on this
   * machine, while the wildcard is no address to connect to.
   */
  URI url() {
    return url(host, port);
  }

  /** Whether Jetty listens on all interfaces ({@code --bind 0.0.0.0} or {@code ::}). */
  boolean allInterfaces() {
    return isWildcard(host);
  }

  /** See {@link #url()}. */
  static URI url(String host, int port) {
    String usable = host;
    if (isWildcard(host)) {
      usable = host.contains(":") ? "::1" : "127.0.0.1";
    }
    return URI.create("http://" + hostForUrl(usable) + ":" + port + "/");
  }

  /**
   * Whether {@code host} is an IP literal of the wildcard address (all interfaces); host names are
   * not looked up.
   */
  static boolean isWildcard(String host) {
    String literal =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (!IP_LITERAL.matcher(literal).matches()) {
      return false;
    }
    try {
      return InetAddress.getByName(literal).isAnyLocalAddress(); // a literal: no lookup
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** Brackets an IPv6 literal for use in a URL. */
  static String hostForUrl(String host) {
    return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
