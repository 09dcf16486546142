/**
 * Public types of the inverting proxy.
 *
 * <p>Starting points:
 *
 * <ul>
 *   <li>{@link dev.invertingproxy.RequestBroker}: the rendezvous between parked client requests
 *       and agents;
 *   <li>{@link dev.invertingproxy.BackendRegistry}: backend records and agent liveness;
 *   <li>{@link dev.invertingproxy.AgentLoop}: the agent that runs beside a private backend;
 *   <li>{@link dev.invertingproxy.RequestHead}, {@link dev.invertingproxy.ResponseHead}, {@link
 *       dev.invertingproxy.Headers}, {@link dev.invertingproxy.MessageBody}: HTTP messages as
 *       they travel, headers in their original order and case.
 * </ul>
 */
@NullMarked
package dev.invertingproxy;

import org.jspecify.annotations.NullMarked;
