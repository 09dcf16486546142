package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.storage.inmemory.InMemoryStorage;
import dev.invertingproxy.testkit.AbstractProxyEndpointConformanceTest;
import dev.invertingproxy.testkit.Capability;
import java.net.URI;
import java.util.Optional;
import java.util.Set;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * The proxy endpoint kit against {@link ProxyServlet} and {@link AgentServlet} under embedded Jetty
 * 12 (ee10), configured as {@link Relay} configures it, on in-memory storage. On Jetty the servlets
 * notice a parked client's disconnect at once (JettySupport), so PROMPT_DISCONNECT_DETECTION holds.
 */
class JettyProxyEndpointConformanceTest extends AbstractProxyEndpointConformanceTest {
  private Server server;

  @Override
  protected URI startEndpoint(ProxyEngine engine) throws Exception {
    server =
        Relay.startProxy(
            engine, request -> Optional.ofNullable(request.getHeader(END_USER_HEADER)));
    int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    return URI.create("http://127.0.0.1:" + port + "/");
  }

  @Override
  protected void stopEndpoint() throws Exception {
    server.stop();
  }

  @Override
  protected Storage newStorage() {
    return InMemoryStorage.create();
  }

  @Override
  protected Set<Capability> capabilities() {
    return Set.of(Capability.PROMPT_DISCONNECT_DETECTION, Capability.END_USER_IDENTITY);
  }
}
