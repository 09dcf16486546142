package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.testkit.RawHttpBackend;

import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.DefaultAgentLoop;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.storage.inmemory.InMemoryStorage;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * One whole relay on loopback: a raw backend, the proxy (embedded Jetty 12 with both servlets,
 * agents at {@code /agent/*}) on in-memory storage, and optionally our OkHttp agent.
 */
final class Relay implements AutoCloseable {
  static final String BACKEND_ID = "b1";
  static final String AGENT_TOKEN = "test-agent-token";

  final RawHttpBackend backend;
  final InMemoryStorage storage;
  final ProxyEngine engine;
  final Server server;
  final URI proxy;
  DefaultAgentLoop agent;

  private Relay(Consumer<ProxyEngine.Builder> engineSettings) throws Exception {
    this(engineSettings, JettyProxyHost.IDLE_TIMEOUT);
  }

  private Relay(Consumer<ProxyEngine.Builder> engineSettings, Duration idleTimeout)
      throws Exception {
    backend = new RawHttpBackend();
    storage = InMemoryStorage.create();
    ProxyEngine.Builder builder =
        ProxyEngine.builder()
            .storage(storage)
            .backend(BACKEND_ID)
            .agentAuthenticator(AgentAuthenticator.bearerTokens(Map.of(AGENT_TOKEN, "agent-1")));
    engineSettings.accept(builder);
    engine = builder.build();
    server = startProxy(engine, ProxyServlet.UserResolver.PRINCIPAL, idleTimeout);
    proxy = URI.create("http://127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort() + "/");
  }

  /** A relay with our agent running and connected. */
  static Relay withAgent() throws Exception {
    return withAgent(b -> {});
  }

  static Relay withAgent(Consumer<ProxyEngine.Builder> engineSettings) throws Exception {
    Relay relay = new Relay(engineSettings);
    relay.startAgent(relay.backend.uri());
    return relay;
  }

  /** A relay with our agent, whose proxy closes connections idle for {@code idleTimeout}. */
  static Relay withAgent(Consumer<ProxyEngine.Builder> engineSettings, Duration idleTimeout)
      throws Exception {
    Relay relay = new Relay(engineSettings, idleTimeout);
    relay.startAgent(relay.backend.uri());
    return relay;
  }

  /** A relay with no agent (tests play the agent themselves, or none at all). */
  static Relay withoutAgent(Consumer<ProxyEngine.Builder> engineSettings) throws Exception {
    return new Relay(engineSettings);
  }

  void startAgent(URI backendUri) throws InterruptedException {
    startAgent(backendUri, builder -> {});
  }

  void startAgent(URI backendUri, Consumer<DefaultAgentLoop.Builder> agentSettings)
      throws InterruptedException {
    DefaultAgentLoop.Builder builder =
        DefaultAgentLoop.builder()
            .proxy(proxy)
            .backendId(BACKEND_ID)
            .backend(backendUri)
            .bearerToken(AGENT_TOKEN)
            .drainTimeout(Duration.ofSeconds(2));
    agentSettings.accept(builder);
    agent = builder.build();
    agent.start();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (storage.registry().lastSeen(BACKEND_ID).isEmpty()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the agent did not poll within 10 s");
      }
      Thread.sleep(10);
    }
  }

  URI url(String pathAndQuery) {
    return proxy.resolve(pathAndQuery);
  }

  int port() {
    return proxy.getPort();
  }

  /** Jetty set up as a proxy host must be: raw targets kept, no invented headers, long timeouts. */
  static Server startProxy(ProxyEngine engine) throws Exception {
    return startProxy(engine, ProxyServlet.UserResolver.PRINCIPAL);
  }

  /** Like {@link #startProxy(ProxyEngine)}, identifying end users with {@code users}. */
  static Server startProxy(ProxyEngine engine, ProxyServlet.UserResolver users) throws Exception {
    return startProxy(engine, users, JettyProxyHost.IDLE_TIMEOUT);
  }

  private static Server startProxy(
      ProxyEngine engine, ProxyServlet.UserResolver users, Duration idleTimeout) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(200, 8);
    threads.setName("proxy");
    Server server = new Server(threads);
    ServerConnector connector =
        new ServerConnector(server, new HttpConnectionFactory(JettyProxyHost.httpConfiguration(engine)));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    connector.setIdleTimeout(idleTimeout.toMillis());
    server.addConnector(connector);
    server.setHandler(JettyProxyHost.servletContext(engine, users));
    server.start();
    return server;
  }

  @Override
  public void close() throws Exception {
    if (agent != null) {
      agent.close(Duration.ofSeconds(2));
    }
    server.stop();
    engine.close();
    storage.close();
    backend.close();
  }
}
