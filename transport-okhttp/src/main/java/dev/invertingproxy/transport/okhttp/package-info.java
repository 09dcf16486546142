/**
 * An {@link dev.invertingproxy.spi.AgentTransport} on OkHttp 5.
 *
 * <p>Start with {@link dev.invertingproxy.transport.okhttp.OkHttpAgentTransport#create(
 * dev.invertingproxy.AgentConfig)}, or let {@link java.util.ServiceLoader} find {@link
 * dev.invertingproxy.transport.okhttp.OkHttpAgentTransportProvider} (name {@code okhttp}).
 */
@NullMarked
package dev.invertingproxy.transport.okhttp;

import org.jspecify.annotations.NullMarked;
