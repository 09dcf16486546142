package dev.invertingproxy.storage.redis;

import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.DefaultAgentLoop;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.transport.servlet.JettyProxyHost;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** One proxy node: embedded Jetty on a loopback port 0, its engine, its own Redis storage. */
final class ProxyNode implements AutoCloseable {
  static final String BACKEND_ID = "b1";
  static final String AGENT_TOKEN = "redis-it-token";

  final RedisStorage storage;
  final ProxyEngine engine;
  final Server server;
  final URI uri;

  ProxyNode(String redisUri, String prefix) throws Exception {
    storage = RedisStorage.builder().uri(redisUri).prefix(prefix).build();
    engine =
        ProxyEngine.builder()
            .storage(storage)
            .backend(BACKEND_ID)
            .agentAuthenticator(AgentAuthenticator.bearerTokens(Map.of(AGENT_TOKEN, "agent")))
            .build();
    server = new Server();
    ServerConnector connector =
        new ServerConnector(server, new HttpConnectionFactory(JettyProxyHost.httpConfiguration(engine)));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    server.setHandler(JettyProxyHost.servletContext(engine));
    server.start();
    uri = URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/");
  }

  /** Starts our agent polling this node for {@link #BACKEND_ID}. */
  DefaultAgentLoop agent(URI backend) {
    DefaultAgentLoop agent =
        DefaultAgentLoop.builder()
            .proxy(uri)
            .backendId(BACKEND_ID)
            .backend(backend)
            .bearerToken(AGENT_TOKEN)
            .drainTimeout(Duration.ofSeconds(2))
            .build();
    agent.start();
    return agent;
  }

  @Override
  public void close() throws Exception {
    server.stop();
    engine.close();
    storage.close();
  }
}
