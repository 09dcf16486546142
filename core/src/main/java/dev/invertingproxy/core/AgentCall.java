package dev.invertingproxy.core;

import dev.invertingproxy.Headers;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One agent call as a transport presents it to the engine: its headers, which carry the backend
 * ID, the request ID and the credentials.
 *
 * @param headers the call's request headers
 * @since 0.1
 */
public record AgentCall(Headers headers) {
  public AgentCall {
    Objects.requireNonNull(headers, "headers");
  }

  /** Returns {@code X-Inverting-Proxy-Backend-ID}, or null if absent. */
  public @Nullable String backendId() {
    return headers.first(ProtocolHeaders.BACKEND_ID).orElse(null);
  }

  /** Returns {@code X-Inverting-Proxy-Request-ID}, or null if absent. */
  public @Nullable String requestId() {
    return headers.first(ProtocolHeaders.REQUEST_ID).orElse(null);
  }
}
