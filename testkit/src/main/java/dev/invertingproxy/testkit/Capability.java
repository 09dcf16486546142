package dev.invertingproxy.testkit;

/**
 * What a plugin may or may not offer. A kit test that needs a capability the plugin does not
 * declare is reported as skipped with the capability's name, never silently passed.
 */
public enum Capability {
  /** Storage: several storage instances over one shared state (proxy nodes sharing a Redis). */
  MULTI_NODE,

  /**
   * Agent transport: forwards a request body with {@code GET} or {@code HEAD} (HTTP allows it,
   * though it has no defined meaning; some clients, OkHttp among them, cannot send one).
   */
  GET_WITH_BODY,

  /**
   * Proxy endpoint: notices within a few seconds that a client whose request is parked has
   * disconnected, and withdraws the request (Servlet API alone cannot: jakartaee/servlet#44).
   */
  PROMPT_DISCONNECT_DETECTION,

  /**
   * Proxy endpoint: identifies the end user from the request header {@value
   * AbstractProxyEndpointConformanceTest#END_USER_HEADER} (the subclass wires its user resolution
   * that way for the kit), so the kit can check {@code X-Inverting-Proxy-User-ID} on reads.
   */
  END_USER_IDENTITY
}
