/**
 * Binds {@link dev.invertingproxy.core.ProxyEngine} to a Jakarta Servlet 6 container.
 *
 * <p>Starting points: mount {@link dev.invertingproxy.transport.servlet.ProxyServlet} where
 * clients arrive and {@link dev.invertingproxy.transport.servlet.AgentServlet} where agents poll
 * ({@code {base}agent/pending}, {@code agent/request}, {@code agent/response}); optionally {@link
 * dev.invertingproxy.transport.servlet.AdminServlet} for the admin REST API ({@code
 * {base}api/backends}).
 */
@NullMarked
package dev.invertingproxy.transport.servlet;

import org.jspecify.annotations.NullMarked;
