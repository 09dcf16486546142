package dev.invertingproxy.spi;

import dev.invertingproxy.Headers;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * What an {@link AgentTransport} needs to know.
 *
 * @param proxy the proxy's agent base URL; {@code agent/pending}, {@code agent/request} and
 *     {@code agent/response} are resolved against it (a missing trailing {@code /} is added)
 * @param backend the private backend, {@code http://host:port}
 * @param pollTimeout the agent side's bound on one long poll; must exceed the proxy's long poll
 * @param maxInFlight how many requests the agent forwards at once
 * @param proxyHeaders headers added to every call to the proxy (credentials), asked for per call
 * @since 0.1
 */
public record AgentTransportConfig(
    URI proxy,
    URI backend,
    Duration pollTimeout,
    int maxInFlight,
    Supplier<Headers> proxyHeaders) {

  public AgentTransportConfig {
    Objects.requireNonNull(proxy, "proxy");
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(pollTimeout, "pollTimeout");
    Objects.requireNonNull(proxyHeaders, "proxyHeaders");
    if (!proxy.isAbsolute() || proxy.getHost() == null) {
      throw new IllegalArgumentException("proxy must be an absolute http(s) URL, was " + proxy);
    }
    if (!proxy.getRawPath().endsWith("/")) {
      String path = proxy.getRawPath().isEmpty() ? "/" : proxy.getRawPath() + "/";
      proxy = proxy.resolve(path);
    }
    if (!backend.isAbsolute() || backend.getHost() == null) {
      throw new IllegalArgumentException("backend must be an absolute http URL, was " + backend);
    }
    if (pollTimeout.isNegative() || pollTimeout.isZero()) {
      throw new IllegalArgumentException("pollTimeout must be positive, was " + pollTimeout);
    }
    if (maxInFlight < 1) {
      throw new IllegalArgumentException("maxInFlight must be >= 1, was " + maxInFlight);
    }
  }
}
