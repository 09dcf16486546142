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
 * @param backendIdleTimeout the longest the backend may stay silent (no byte read or written)
 *     during an exchange before the agent gives up on it; {@link Duration#ZERO} for no limit. A
 *     response that keeps producing bytes is never cut. Default {@link #DEFAULT_BACKEND_IDLE}.
 * @param backendTotalTimeout an optional bound on a whole exchange with the backend, body
 *     included; {@link Duration#ZERO} (the default) for none
 * @since 0.1
 */
public record AgentTransportConfig(
    URI proxy,
    URI backend,
    Duration pollTimeout,
    int maxInFlight,
    Supplier<Headers> proxyHeaders,
    Duration backendIdleTimeout,
    Duration backendTotalTimeout) {

  /** The default {@link #backendIdleTimeout()}: 5 minutes. */
  public static final Duration DEFAULT_BACKEND_IDLE = Duration.ofMinutes(5);

  /** A configuration with the default backend idle time-out. */
  public AgentTransportConfig(
      URI proxy, URI backend, Duration pollTimeout, int maxInFlight, Supplier<Headers> proxyHeaders) {
    this(proxy, backend, pollTimeout, maxInFlight, proxyHeaders, DEFAULT_BACKEND_IDLE, Duration.ZERO);
  }

  public AgentTransportConfig {
    Objects.requireNonNull(proxy, "proxy");
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(pollTimeout, "pollTimeout");
    Objects.requireNonNull(proxyHeaders, "proxyHeaders");
    Objects.requireNonNull(backendIdleTimeout, "backendIdleTimeout");
    Objects.requireNonNull(backendTotalTimeout, "backendTotalTimeout");
    if (backendTotalTimeout.isNegative()) {
      throw new IllegalArgumentException(
          "backendTotalTimeout must not be negative, was " + backendTotalTimeout);
    }
    if (backendIdleTimeout.isNegative()) {
      throw new IllegalArgumentException(
          "backendIdleTimeout must not be negative, was " + backendIdleTimeout);
    }
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
