/**
 * Protocol and policy, container-neutral: the HTTP/1.1 wire codec, the proxy engine, the agent
 * loop and provider discovery. Imports no servlet, OkHttp or Lettuce type (a test enforces it).
 */
module dev.invertingproxy.core {
  requires transitive dev.invertingproxy;
  requires static org.jspecify; // annotations only
  requires com.squareup.moshi; // the protocol's JSON ID list
  requires okio;

  exports dev.invertingproxy.core;
  exports dev.invertingproxy.core.protocol;
  exports dev.invertingproxy.core.spi;
  // The codec drives the raw test peers of the conformance kit; it is not public API.
  exports dev.invertingproxy.core.internal.wire to
      dev.invertingproxy.testkit;

  uses dev.invertingproxy.spi.StorageProvider;
  uses dev.invertingproxy.spi.AgentTransportProvider;
}
