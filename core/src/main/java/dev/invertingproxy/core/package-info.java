/**
 * Entry points of the proxy side and the agent side.
 *
 * <p>Starting points: {@link dev.invertingproxy.core.ProxyEngine} (what a transport binds to a
 * container) and {@link dev.invertingproxy.core.DefaultAgentLoop} (the agent).
 */
@NullMarked
package dev.invertingproxy.core;

import org.jspecify.annotations.NullMarked;
