/**
 * The engine's SPI for transports (server bindings such as the servlet module): what a binding
 * hands {@link dev.invertingproxy.core.ProxyEngine} for an agent call ({@link
 * dev.invertingproxy.core.spi.AgentCall}), where the engine writes its answers ({@link
 * dev.invertingproxy.core.spi.AgentReadSink}) and what it gets back ({@link
 * dev.invertingproxy.core.spi.NextRequest}, {@link dev.invertingproxy.core.spi.Cancellable}).
 * Not for applications. ({@link dev.invertingproxy.core.ClientExchange}, a client request as a
 * binding presents it, stays in {@code core}: applications read it in a {@link
 * dev.invertingproxy.core.BackendResolver}.)
 */
@NullMarked
package dev.invertingproxy.core.spi;

import org.jspecify.annotations.NullMarked;
