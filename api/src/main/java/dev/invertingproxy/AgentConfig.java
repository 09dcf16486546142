package dev.invertingproxy;

import dev.invertingproxy.internal.Checks;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Everything an agent is configured with, for its loop and its transport alike: one immutable
 * configuration, built with {@link #builder()} and changed with {@link #toBuilder()}. The loop
 * ({@code DefaultAgentLoop}) and the transport it creates ({@link
 * dev.invertingproxy.spi.AgentTransportProvider#create}) read the same instance. The loop reads the
 * backend ID, proxy headers, concurrency, back-off, drain and head limit; a transport reads the
 * URLs, the poll time-out, concurrency and the backend's time-outs and keep-alive.
 *
 * <p>This class is immutable and thread-safe.
 *
 * @since 0.1
 */
public final class AgentConfig {
  /** The default {@link #backendIdleTimeout()}: 5 minutes. */
  public static final Duration DEFAULT_BACKEND_IDLE = Duration.ofMinutes(5);

  /**
   * The default {@link #backendKeepAlive()}: 1 second, below the shortest idle time-outs of common
   * servers (gunicorn 2 s; Node.js, Apache httpd and uvicorn 5 s). Under load a connection is
   * never idle that long; when traffic is sparse, a new connection to a backend next to the agent
   * costs well under a millisecond.
   */
  public static final Duration DEFAULT_BACKEND_KEEP_ALIVE = Duration.ofSeconds(1);

  private final URI proxyUrl;
  private final String backendId;
  private final URI backendUrl;
  private final Supplier<Headers> proxyHeaders;
  private final Duration pollTimeout;
  private final int maxInFlight;
  private final Duration backendIdleTimeout;
  private final Duration backendTotalTimeout;
  private final Duration backendKeepAlive;
  private final Duration backoffBase;
  private final Duration backoffCap;
  private final Duration drainTimeout;
  private final boolean forwardUserId;
  private final int maxHeadBytes;

  private AgentConfig(Builder builder) {
    this.proxyUrl = withTrailingSlash(Objects.requireNonNull(builder.proxyUrl, "proxyUrl"));
    this.backendId = Objects.requireNonNull(builder.backendId, "backendId");
    this.backendUrl = builder.backendUrl;
    this.proxyHeaders = builder.proxyHeaders;
    this.pollTimeout = builder.pollTimeout;
    this.maxInFlight = builder.maxInFlight;
    this.backendIdleTimeout = builder.backendIdleTimeout;
    this.backendTotalTimeout = builder.backendTotalTimeout;
    this.backendKeepAlive = builder.backendKeepAlive;
    this.backoffBase = builder.backoffBase;
    this.backoffCap = builder.backoffCap;
    this.drainTimeout = builder.drainTimeout;
    this.forwardUserId = builder.forwardUserId;
    this.maxHeadBytes = builder.maxHeadBytes;
  }

  private static URI withTrailingSlash(URI proxy) {
    if (proxy.getRawPath().endsWith("/")) {
      return proxy;
    }
    return proxy.resolve(proxy.getRawPath().isEmpty() ? "/" : proxy.getRawPath() + "/");
  }

  /** Returns a builder with the defaults; {@link Builder#proxyUrl} and {@link Builder#backendId} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder holding this configuration. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /**
   * The proxy's agent base URL, ending in {@code /}: the agent endpoints ({@code agent/pending},
   * …) are resolved against it.
   */
  public URI proxyUrl() {
    return proxyUrl;
  }

  /** The backend ID this agent serves. */
  public String backendId() {
    return backendId;
  }

  /** The private backend, {@code http://host:port}; default {@code http://localhost:8080}. */
  public URI backendUrl() {
    return backendUrl;
  }

  /**
   * Headers added to every call to the proxy (credentials), asked for per call. The agent's
   * protocol client adds them, through whatever transport; a transport never reads them, so
   * credentials belong in the agent's configuration, not only in a transport's.
   */
  public Supplier<Headers> proxyHeaders() {
    return proxyHeaders;
  }

  /** The agent side's bound on one long poll; must exceed the proxy's long poll; default 60 s. */
  public Duration pollTimeout() {
    return pollTimeout;
  }

  /** How many requests the agent forwards at once; default 64. */
  public int maxInFlight() {
    return maxInFlight;
  }

  /**
   * The longest the backend may stay silent (no byte read or written) during an exchange before
   * the agent gives up on it; {@link Duration#ZERO} for no limit. A response that keeps producing
   * bytes is never cut. Default {@link #DEFAULT_BACKEND_IDLE}.
   */
  public Duration backendIdleTimeout() {
    return backendIdleTimeout;
  }

  /** An optional bound on a whole exchange with the backend, body included; zero (the default) for none. */
  public Duration backendTotalTimeout() {
    return backendTotalTimeout;
  }

  /**
   * How long an idle connection to the backend is kept for the next request; {@link
   * Duration#ZERO} to use each connection once. Keep it below the backend's own idle time-out: a
   * request sent on a connection the backend has closed fails, and only requests that may be sent
   * twice (no body, a safe method or an {@code Idempotency-Key}) are sent again. Default {@link
   * #DEFAULT_BACKEND_KEEP_ALIVE}.
   */
  public Duration backendKeepAlive() {
    return backendKeepAlive;
  }

  /** The base of the poll errors' back-off (full jitter over base·2^n); default 100 ms. */
  public Duration backoffBase() {
    return backoffBase;
  }

  /** The cap of the poll errors' back-off; default 3 s. */
  public Duration backoffCap() {
    return backoffCap;
  }

  /** How long closing the agent waits for in-flight requests; default 30 s. */
  public Duration drainTimeout() {
    return drainTimeout;
  }

  /** Whether the proxy's {@code X-Inverting-Proxy-User-ID} is passed on to the backend; default off. */
  public boolean forwardUserId() {
    return forwardUserId;
  }

  /** The largest head of a request read from the proxy; default 64 KiB. */
  public int maxHeadBytes() {
    return maxHeadBytes;
  }

  @Override
  public String toString() {
    return "AgentConfig[proxyUrl="
        + proxyUrl
        + ", backendId="
        + backendId
        + ", backendUrl="
        + backendUrl
        + ", maxInFlight="
        + maxInFlight
        + "]";
  }

  /**
   * Builds an {@link AgentConfig}; each setter checks its value at once.
   *
   * <p>This class is not thread-safe.
   */
  public static final class Builder {
    private @Nullable URI proxyUrl;
    private @Nullable String backendId;
    private URI backendUrl = URI.create("http://localhost:8080");
    private Supplier<Headers> proxyHeaders = Headers::empty;
    private Duration pollTimeout = Duration.ofSeconds(60);
    private int maxInFlight = 64;
    private Duration backendIdleTimeout = DEFAULT_BACKEND_IDLE;
    private Duration backendTotalTimeout = Duration.ZERO;
    private Duration backendKeepAlive = DEFAULT_BACKEND_KEEP_ALIVE;
    private Duration backoffBase = Duration.ofMillis(100);
    private Duration backoffCap = Duration.ofSeconds(3);
    private Duration drainTimeout = Duration.ofSeconds(30);
    private boolean forwardUserId;
    private int maxHeadBytes = 64 * 1024;

    private Builder() {}

    private Builder(AgentConfig config) {
      this.proxyUrl = config.proxyUrl;
      this.backendId = config.backendId;
      this.backendUrl = config.backendUrl;
      this.proxyHeaders = config.proxyHeaders;
      this.pollTimeout = config.pollTimeout;
      this.maxInFlight = config.maxInFlight;
      this.backendIdleTimeout = config.backendIdleTimeout;
      this.backendTotalTimeout = config.backendTotalTimeout;
      this.backendKeepAlive = config.backendKeepAlive;
      this.backoffBase = config.backoffBase;
      this.backoffCap = config.backoffCap;
      this.drainTimeout = config.drainTimeout;
      this.forwardUserId = config.forwardUserId;
      this.maxHeadBytes = config.maxHeadBytes;
    }

    /** The proxy's agent base URL, {@code http(s)://host[:port][/path]}; required. */
    public Builder proxyUrl(URI url) {
      Objects.requireNonNull(url, "proxyUrl");
      if (!url.isAbsolute() || url.getHost() == null) {
        throw new IllegalArgumentException("proxyUrl must be an absolute http(s) URL, was " + url);
      }
      this.proxyUrl = url;
      return this;
    }

    /** The backend ID this agent serves; required. */
    public Builder backendId(String id) {
      Objects.requireNonNull(id, "backendId");
      if (id.isBlank()) {
        throw new IllegalArgumentException("backendId is blank");
      }
      this.backendId = id;
      return this;
    }

    /** The private backend, {@code http://host:port}; default {@code http://localhost:8080}. */
    public Builder backendUrl(URI url) {
      Objects.requireNonNull(url, "backendUrl");
      if (!url.isAbsolute() || url.getHost() == null) {
        throw new IllegalArgumentException("backendUrl must be an absolute http URL, was " + url);
      }
      this.backendUrl = url;
      return this;
    }

    /** Headers added to every call to the proxy (credentials), asked for per call. */
    public Builder proxyHeaders(Supplier<Headers> headers) {
      this.proxyHeaders = Objects.requireNonNull(headers, "proxyHeaders");
      return this;
    }

    /** See {@link AgentConfig#pollTimeout()}. */
    public Builder pollTimeout(Duration timeout) {
      this.pollTimeout = Checks.positive(timeout, "pollTimeout");
      return this;
    }

    /** See {@link AgentConfig#maxInFlight()}; 1 to 10,000. */
    public Builder maxInFlight(int max) {
      this.maxInFlight = Checks.inRange(max, 1, 10_000, "maxInFlight");
      return this;
    }

    /** See {@link AgentConfig#backendIdleTimeout()}. */
    public Builder backendIdleTimeout(Duration timeout) {
      this.backendIdleTimeout = Checks.notNegative(timeout, "backendIdleTimeout");
      return this;
    }

    /** See {@link AgentConfig#backendTotalTimeout()}. */
    public Builder backendTotalTimeout(Duration timeout) {
      this.backendTotalTimeout = Checks.notNegative(timeout, "backendTotalTimeout");
      return this;
    }

    /** See {@link AgentConfig#backendKeepAlive()}. */
    public Builder backendKeepAlive(Duration keepAlive) {
      this.backendKeepAlive = Checks.notNegative(keepAlive, "backendKeepAlive");
      return this;
    }

    /** The poll errors' back-off: full jitter over base·2^n, capped; needs 0 < base <= cap. */
    public Builder backoff(Duration base, Duration cap) {
      Objects.requireNonNull(base, "base");
      Objects.requireNonNull(cap, "cap");
      if (base.isNegative() || base.isZero() || cap.compareTo(base) < 0) {
        throw new IllegalArgumentException("need 0 < base <= cap, got " + base + " and " + cap);
      }
      this.backoffBase = base;
      this.backoffCap = cap;
      return this;
    }

    /** See {@link AgentConfig#drainTimeout()}. */
    public Builder drainTimeout(Duration timeout) {
      this.drainTimeout = Checks.notNegative(timeout, "drainTimeout");
      return this;
    }

    /** See {@link AgentConfig#forwardUserId()}. */
    public Builder forwardUserId(boolean forward) {
      this.forwardUserId = forward;
      return this;
    }

    /** See {@link AgentConfig#maxHeadBytes()}; 1 KiB to 1 MiB. */
    public Builder maxHeadBytes(int bytes) {
      this.maxHeadBytes = Checks.inRange(bytes, 1024, 1024 * 1024, "maxHeadBytes");
      return this;
    }

    /**
     * Builds the configuration.
     *
     * @throws IllegalStateException if the proxy URL or the backend ID is missing
     */
    public AgentConfig build() {
      if (proxyUrl == null) {
        throw new IllegalStateException("proxyUrl is required");
      }
      if (backendId == null) {
        throw new IllegalStateException("backendId is required");
      }
      return new AgentConfig(this);
    }
  }
}
