package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.Headers;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.Request;

/**
 * Jetty 12 (ee10): the request's fields in wire order from the core request, disconnect
 * notification through the core request's failure listener and the connection's close event, and
 * an abort that closes the connection without a final chunk.
 */
final class JettySupport implements ContainerSupport {
  static final JettySupport INSTANCE = new JettySupport();

  private JettySupport() {}

  @Override
  public Headers requestHeaders(HttpServletRequest request) {
    Request core = ServletContextRequest.getServletContextRequest(request);
    Headers.Builder headers = Headers.builder();
    for (HttpField field : core.getHeaders()) {
      headers.add(field.getName(), field.getValue());
    }
    return headers.build();
  }

  @Override
  public void onDisconnect(HttpServletRequest request, Runnable action) {
    GenericSupport.INSTANCE.onDisconnect(request, action);
    Request core = ServletContextRequest.getServletContextRequest(request);
    AtomicBoolean once = new AtomicBoolean();
    Runnable fire =
        () -> {
          if (once.compareAndSet(false, true)) {
            action.run();
          }
        };
    core.addFailureListener(failure -> fire.run());
    Connection connection = core.getConnectionMetaData().getConnection();
    Connection.Listener listener =
        new Connection.Listener() {
          @Override
          public void onClosed(Connection closed) {
            fire.run();
          }
        };
    connection.addEventListener(listener);
    Request.addCompletionListener(core, failure -> connection.removeEventListener(listener));
  }

  @Override
  public void abort(HttpServletRequest request, HttpServletResponse response, Throwable cause) {
    Request core = ServletContextRequest.getServletContextRequest(request);
    core.getConnectionMetaData().getConnection().getEndPoint().close(cause);
  }
}
