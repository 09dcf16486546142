/**
 * Protocol and policy, container-neutral: the HTTP/1.1 wire codec, the proxy engine, the agent
 * loop and provider discovery. Imports no servlet, OkHttp or Lettuce type (a test enforces it).
 */
module dev.invertingproxy.core {
  requires transitive dev.invertingproxy;
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy.core;

  uses dev.invertingproxy.spi.StorageProvider;
  uses dev.invertingproxy.spi.AgentTransportProvider;
}
