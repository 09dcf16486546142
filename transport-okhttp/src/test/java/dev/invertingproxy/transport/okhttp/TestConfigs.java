package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.Headers;
import dev.invertingproxy.core.protocol.ProxyClient;
import java.net.URI;
import java.time.Duration;
import java.util.function.Supplier;
import mockwebserver3.MockWebServer;

/** Builds configurations pointing at MockWebServers on 127.0.0.1, and the protocol's client. */
final class TestConfigs {
  static final URI UNUSED_BACKEND = URI.create("http://127.0.0.1:9/");
  static final String BACKEND_ID = "b1";

  private TestConfigs() {}

  static URI uri(MockWebServer server, String path) {
    return URI.create("http://127.0.0.1:" + server.getPort() + path);
  }

  static AgentConfig proxyConfig(MockWebServer proxy) {
    return config(uri(proxy, "/"), UNUSED_BACKEND, Headers::empty);
  }

  static AgentConfig backendConfig(MockWebServer backend) {
    return config(URI.create("http://127.0.0.1:9/"), uri(backend, ""), Headers::empty);
  }

  /** Backend ID {@link #BACKEND_ID}, a poll timeout of 2 s, 4 requests in flight. */
  static AgentConfig config(URI proxy, URI backend, Supplier<Headers> proxyHeaders) {
    return AgentConfig.builder()
        .proxyUrl(proxy)
        .backendId(BACKEND_ID)
        .backendUrl(backend)
        .pollTimeout(Duration.ofSeconds(2))
        .maxInFlight(4)
        .proxyHeaders(proxyHeaders)
        .build();
  }

  /**
   * The agent protocol's client over {@code transport}, as the agent makes it (backend ID and
   * proxy headers of the transport's configuration), without an agent ID, as the reference agent.
   */
  static ProxyClient client(OkHttpAgentTransport transport) {
    AgentConfig config = transport.config();
    return new ProxyClient(transport, config.backendId(), null, config.proxyHeaders());
  }
}
