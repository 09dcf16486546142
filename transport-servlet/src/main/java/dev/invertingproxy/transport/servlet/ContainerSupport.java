package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * What the Servlet API does not offer portably, done the best way each container allows: the
 * request's header fields in their original order, noticing a client that disconnects while its
 * request is parked (jakartaee/servlet issue 44), and aborting a response that cannot be
 * completed so that the client sees it incomplete.
 *
 * <p>Implementations are thread-safe.
 */
interface ContainerSupport {

  /** Returns the request's header fields, in the original order where the container keeps it. */
  Headers requestHeaders(HttpServletRequest request);

  /**
   * Adds the response's header fields, keeping each name's case and each value as given where the
   * container allows (the Servlet API rewrites some, such as {@code Content-Type}).
   */
  void addResponseHeaders(HttpServletRequest request, HttpServletResponse response, Headers headers);

  /** Returns the request's trailer fields; call after the body was read to its end. */
  Headers requestTrailers(HttpServletRequest request);

  /**
   * Tells why reading the request's body failed with {@code failure}, typed for the engine: a
   * {@link dev.invertingproxy.MalformedMessageException} if the client sent a malformed body, a
   * {@link dev.invertingproxy.ClientGoneException} if it left, a {@link
   * dev.invertingproxy.BodyStalledException} (408) if it stalled, or a {@link
   * dev.invertingproxy.BadRequestException} where the container does not tell.
   *
   * @param chunked whether the body was sent chunked
   */
  InvertingProxyException bodyFailure(
      HttpServletRequest request, IOException failure, boolean chunked);

  /**
   * Starts watching a suspended request whose body has been read to its end: {@code onGone} runs
   * once if the client disconnects before {@link Watch#stop()}. Stop the watch before writing the
   * response.
   */
  Watch watchDisconnect(HttpServletRequest request, AsyncContext async, Runnable onGone);

  /**
   * Ends a committed response abnormally: the connection is closed without a final chunk, so the
   * client sees the response incomplete. Completes the asynchronous cycle, if {@code async} is
   * given, as far as the container needs it.
   */
  void abort(
      HttpServletRequest request,
      HttpServletResponse response,
      @Nullable AsyncContext async,
      Throwable cause);

  /** A disconnect watch. */
  interface Watch {
    Watch NONE = () -> {};

    /** Stops watching; idempotent. */
    void stop();
  }

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
            && present("org.eclipse.jetty.server.internal.HttpConnection");

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
