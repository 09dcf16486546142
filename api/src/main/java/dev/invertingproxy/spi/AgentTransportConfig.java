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
 * @param backendKeepAlive how long an idle connection to the backend is kept for the next request;
 *     {@link Duration#ZERO} to use each connection once. Keep it below the backend's own idle
 *     time-out: a request sent on a connection the backend has closed fails, and only requests
 *     that may be sent twice (no body, a safe method or an {@code Idempotency-Key}) are sent
 *     again. Default {@link #DEFAULT_BACKEND_KEEP_ALIVE}.
 * @since 0.1
 */
public record AgentTransportConfig(
    URI proxy,
    URI backend,
    Duration pollTimeout,
    int maxInFlight,
    Supplier<Headers> proxyHeaders,
    Duration backendIdleTimeout,
    Duration backendTotalTimeout,
    Duration backendKeepAlive) {

  /** The default {@link #backendIdleTimeout()}: 5 minutes. */
  public static final Duration DEFAULT_BACKEND_IDLE = Duration.ofMinutes(5);

  /**
   * The default {@link #backendKeepAlive()}: 1 second, below the shortest idle time-outs of common
   * servers (gunicorn 2 s; Node.js, Apache httpd and uvicorn 5 s). Under load a connection is
   * never idle that long; when traffic is sparse, a new connection to a backend next to the agent
   * costs well under a millisecond.
   */
  public static final Duration DEFAULT_BACKEND_KEEP_ALIVE = Duration.ofSeconds(1);

  /** A configuration with the default backend time-outs and keep-alive. */
  public AgentTransportConfig(
      URI proxy, URI backend, Duration pollTimeout, int maxInFlight, Supplier<Headers> proxyHeaders) {
    this(
        proxy,
        backend,
        pollTimeout,
        maxInFlight,
        proxyHeaders,
        DEFAULT_BACKEND_IDLE,
        Duration.ZERO,
        DEFAULT_BACKEND_KEEP_ALIVE);
  }

  /** A configuration with the default {@link #backendKeepAlive()} (the 0.1 constructor). */
  public AgentTransportConfig(
      URI proxy,
      URI backend,
      Duration pollTimeout,
      int maxInFlight,
      Supplier<Headers> proxyHeaders,
      Duration backendIdleTimeout,
      Duration backendTotalTimeout) {
    this(
        proxy,
        backend,
        pollTimeout,
        maxInFlight,
        proxyHeaders,
        backendIdleTimeout,
        backendTotalTimeout,
        DEFAULT_BACKEND_KEEP_ALIVE);
  }

  /** This configuration with another {@link #backendKeepAlive()}. */
  public AgentTransportConfig withBackendKeepAlive(Duration keepAlive) {
    return new AgentTransportConfig(
        proxy,
        backend,
        pollTimeout,
        maxInFlight,
        proxyHeaders,
        backendIdleTimeout,
        backendTotalTimeout,
        keepAlive);
  }

  public AgentTransportConfig {
    Objects.requireNonNull(proxy, "proxy");
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(pollTimeout, "pollTimeout");
    Objects.requireNonNull(proxyHeaders, "proxyHeaders");
    Objects.requireNonNull(backendIdleTimeout, "backendIdleTimeout");
    Objects.requireNonNull(backendTotalTimeout, "backendTotalTimeout");
    Objects.requireNonNull(backendKeepAlive, "backendKeepAlive");
    if (backendKeepAlive.isNegative()) {
      throw new IllegalArgumentException(
          "backendKeepAlive must not be negative, was " + backendKeepAlive);
    }
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
