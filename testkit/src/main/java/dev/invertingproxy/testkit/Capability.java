package dev.invertingproxy.testkit;

/**
 * What a plugin may or may not offer. A kit test that needs a capability the plugin does not
 * declare is reported as skipped with the capability's name, never silently passed.
 */
public enum Capability {
  /** Several storage instances over one shared state (proxy nodes sharing a Redis). */
  MULTI_NODE
}
