/**
 * The agent protocol, one owner: its endpoints ({@link
 * dev.invertingproxy.core.protocol.AgentEndpoint}), header names ({@link
 * dev.invertingproxy.core.protocol.ProtocolHeaders}), extensions ({@link
 * dev.invertingproxy.core.protocol.Capabilities}), the request ID list ({@link
 * dev.invertingproxy.core.protocol.RequestIdList}) and the agent's client of it ({@link
 * dev.invertingproxy.core.protocol.ProxyClient}), which turns a transport's answers into typed
 * results. Transports move bytes; they name no endpoint, header or capability. See {@code
 * docs/protocol.md} for the protocol itself.
 */
@NullMarked
package dev.invertingproxy.core.protocol;

import org.jspecify.annotations.NullMarked;
