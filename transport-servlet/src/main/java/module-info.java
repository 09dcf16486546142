/**
 * The proxy's endpoints as Jakarta Servlet 6 servlets: {@link
 * dev.invertingproxy.transport.servlet.ProxyServlet} for clients and {@link
 * dev.invertingproxy.transport.servlet.AgentServlet} for agents.
 */
module dev.invertingproxy.transport.servlet {
  requires transitive dev.invertingproxy.core;
  requires transitive jakarta.servlet; // provided by the container
  requires static org.eclipse.jetty.server; // optional: prompt disconnect detection on Jetty 12
  requires static org.eclipse.jetty.io;
  requires static org.eclipse.jetty.http;
  requires static org.eclipse.jetty.util;
  requires static org.eclipse.jetty.ee10.servlet;
  requires com.squareup.moshi;
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy.transport.servlet;
}
