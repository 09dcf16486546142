/**
 * Plugin contracts, discovered with {@link java.util.ServiceLoader} and always injectable
 * explicitly.
 *
 * <p>Starting points: {@link dev.invertingproxy.spi.StorageProvider} creates a {@link
 * dev.invertingproxy.spi.Storage} (registry and broker) for a URI scheme; {@link
 * dev.invertingproxy.spi.AgentTransportProvider} creates the agent's {@link
 * dev.invertingproxy.spi.AgentTransport} (its client to the proxy and to the backend).
 */
@NullMarked
package dev.invertingproxy.spi;

import org.jspecify.annotations.NullMarked;
