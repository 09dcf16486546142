package dev.invertingproxy.core.spi;

import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One agent call as a transport presents it to the engine ({@link
 * dev.invertingproxy.core.ProxyEngine}): its headers, which carry the backend
 * ID, the request ID, the agent's own ID and the credentials, and where it came from.
 *
 * @param headers the call's request headers
 * @param remoteAddress the caller's IP address as the container reports it (for the log and the
 *     {@link dev.invertingproxy.core.ProxyListener} events), or empty if unknown
 * @since 0.1
 */
public record AgentCall(Headers headers, String remoteAddress) {
  public AgentCall {
    Objects.requireNonNull(headers, "headers");
    Objects.requireNonNull(remoteAddress, "remoteAddress");
  }

  /** A call whose caller's address is unknown. */
  public AgentCall(Headers headers) {
    this(headers, "");
  }

  /** Returns {@code X-Inverting-Proxy-Backend-ID}, or null if absent. */
  public @Nullable String backendId() {
    return headers.first(ProtocolHeaders.BACKEND_ID).orElse(null);
  }

  /** Returns {@code X-Inverting-Proxy-Request-ID}, or null if absent. */
  public @Nullable String requestId() {
    return headers.first(ProtocolHeaders.REQUEST_ID).orElse(null);
  }

  /**
   * Returns {@code X-Inverting-Proxy-Agent-ID}, the ID this project's agent names itself with, or
   * an empty string for agents that send none (the reference agent).
   *
   * @throws BadRequestException if it is not 1 to 128 letters, digits, {@code .}, {@code _},
   *     {@code :} or {@code -}
   */
  public String agentId() {
    String id = headers.first(ProtocolHeaders.AGENT_ID).map(String::strip).orElse("");
    if (!id.isEmpty() && !AGENT_ID.matcher(id).matches()) {
      throw new BadRequestException(
          ProtocolHeaders.AGENT_ID + " must be 1 to 128 letters, digits, '.', '_', ':' or '-'");
    }
    return id;
  }

  private static final java.util.regex.Pattern AGENT_ID =
      java.util.regex.Pattern.compile("[0-9A-Za-z._:-]{1,128}");
}
