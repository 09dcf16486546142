package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.Headers;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * What the Servlet API does not offer portably, done the best way each container allows: the
 * request's header fields in their original order, noticing a client that disconnects while its
 * request is parked, and aborting a response that cannot be completed.
 *
 * <p>Implementations are thread-safe.
 */
interface ContainerSupport {

  /** Returns the request's header fields, in the original order where the container keeps it. */
  Headers requestHeaders(HttpServletRequest request);

  /**
   * Runs {@code action} once if the client disconnects before the response completes. The
   * generic implementation can only rely on the container's {@code AsyncListener.onError}.
   */
  void onDisconnect(HttpServletRequest request, Runnable action);

  /**
   * Ends a committed response abnormally, so that the client sees it incomplete (the connection
   * is closed without a final chunk).
   */
  void abort(HttpServletRequest request, HttpServletResponse response, Throwable cause);

  /** Returns the best support for the container running {@code request}. */
  static ContainerSupport of(HttpServletRequest request) {
    return Detected.JETTY_EE10 && request.getClass().getName().startsWith("org.eclipse.jetty.")
        ? JettySupport.INSTANCE
        : GenericSupport.INSTANCE;
  }

  /** Which optional container classes are present; JettySupport is loaded only if Jetty is. */
  final class Detected {
    static final boolean JETTY_EE10 =
        present("org.eclipse.jetty.ee10.servlet.ServletContextRequest")
            && present("org.eclipse.jetty.server.Request");

    private Detected() {}

    private static boolean present(String className) {
      try {
        Class.forName(className, false, ContainerSupport.class.getClassLoader());
        return true;
      } catch (ClassNotFoundException | LinkageError e) {
        return false;
      }
    }
  }
}
