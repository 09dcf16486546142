package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.Headers;
import dev.invertingproxy.spi.AgentTransportConfig;
import java.net.URI;
import java.time.Duration;
import java.util.function.Supplier;
import mockwebserver3.MockWebServer;

/** Builds configurations pointing at MockWebServers on 127.0.0.1. */
final class TestConfigs {
  static final URI UNUSED_BACKEND = URI.create("http://127.0.0.1:9/");

  private TestConfigs() {}

  static URI uri(MockWebServer server, String path) {
    return URI.create("http://127.0.0.1:" + server.getPort() + path);
  }

  static AgentTransportConfig proxyConfig(MockWebServer proxy) {
    return config(uri(proxy, "/"), UNUSED_BACKEND, Headers::empty);
  }

  static AgentTransportConfig backendConfig(MockWebServer backend) {
    return config(URI.create("http://127.0.0.1:9/"), uri(backend, ""), Headers::empty);
  }

  static AgentTransportConfig config(URI proxy, URI backend, Supplier<Headers> proxyHeaders) {
    return new AgentTransportConfig(proxy, backend, Duration.ofSeconds(2), 4, proxyHeaders);
  }
}
