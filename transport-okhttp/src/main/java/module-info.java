/**
 * The agent's HTTP client on OkHttp 5: the three calls to the proxy and the forwarder to the
 * private backend. Discovered through {@link dev.invertingproxy.spi.AgentTransportProvider}.
 */
module dev.invertingproxy.transport.okhttp {
  requires transitive dev.invertingproxy; // the API and SPI types in our public signatures
  requires dev.invertingproxy.core;
  requires transitive okhttp3; // OkHttpClient appears in the public factory
  requires okio;
  requires com.squareup.moshi;
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy.transport.okhttp;

  provides dev.invertingproxy.spi.AgentTransportProvider with
      dev.invertingproxy.transport.okhttp.OkHttpAgentTransportProvider;
}
