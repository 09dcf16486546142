package dev.invertingproxy.core.protocol;

import java.util.Optional;

/**
 * The agent protocol's endpoints: a method and a path relative to the proxy's agent base URL
 * (where {@code AgentServlet} is mounted, minus {@code agent/}).
 *
 * @since 0.1
 */
public enum AgentEndpoint {
  /** Long poll for the IDs of pending requests (v1). */
  PENDING("GET", "agent/pending"),
  /** Claims one request and reads it in HTTP/1.1 wire format (v1). */
  REQUEST("GET", "agent/request"),
  /** Posts the backend's response in HTTP/1.1 wire format (v1). */
  RESPONSE("POST", "agent/response"),
  /** Long poll answered with one claimed request, or 204 (extension {@code next-request}). */
  NEXT("GET", "agent/next"),
  /** Long poll for the IDs of requests whose clients left (extension {@code cancel-notices}). */
  CANCELLED("GET", "agent/cancelled"),
  /** The agent's goodbye, answered 204 (extension {@code leave-notice}). */
  LEAVE("POST", "agent/leave");

  private final String method;
  private final String path;

  AgentEndpoint(String method, String path) {
    this.method = method;
    this.path = path;
  }

  /** Returns the HTTP method the endpoint takes. */
  public String method() {
    return method;
  }

  /** Returns the path relative to the agent base URL, such as {@code agent/pending}. */
  public String path() {
    return path;
  }

  /**
   * Returns the endpoint a request path names: the one it ends with, so that the agent servlet may
   * be mounted under any prefix ({@code /agent/*}, {@code /tunnel/*}).
   */
  public static Optional<AgentEndpoint> matching(String requestPath) {
    for (AgentEndpoint endpoint : values()) {
      if (requestPath.endsWith(endpoint.path)) {
        return Optional.of(endpoint);
      }
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    return method + " " + path;
  }
}
