package dev.invertingproxy.samples;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The quickstart's private backend: a tiny page on 127.0.0.1 (a free port) that says it came
 * through the inverting proxy and echoes the request's method and target.
 *
 * <p>Embedded Jetty, whose connections have {@code TCP_NODELAY} and which writes a small response
 * (head and body) in one write. The JDK's {@code com.sun.net.httpserver} server, used before, wrote
 * the head and then the body on a Nagle connection: on the agent's kept-alive connection the body
 * waited for the agent's delayed ACK, about 40 ms per request, most of the time a quickstart
 * request took.
 */
final class DemoBackend implements AutoCloseable {
  /** Text every page of the demo backend contains. */
  static final String MARKER = "came through the inverting proxy";

  private final Server server;
  private final ServerConnector connector;

  private DemoBackend(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  static DemoBackend start() throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(16, 2);
    threads.setName("demo-backend");
    threads.setDaemon(true);
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setUriCompliance(UriCompliance.LEGACY); // echo whatever target the agent forwards
    http.setSendServerVersion(false);
    ServerConnector connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    connector.setAcceptedTcpNoDelay(true); // Jetty's default; the point of this class
    server.addConnector(connector);
    server.setHandler(new Page());
    server.setStopTimeout(1_000);
    JettyServers.startOrStop(server);
    return new DemoBackend(server, connector);
  }

  /** {@code http://127.0.0.1:port}. */
  URI uri() {
    return URI.create("http://127.0.0.1:" + connector.getLocalPort());
  }

  /**
   * The {@code TCP_NODELAY} option of each connection open right now, read from its socket (for
   * tests: a small write must never wait for the peer's ACK).
   */
  List<Boolean> openConnectionsNoDelay() throws IOException {
    List<Boolean> noDelay = new ArrayList<>();
    for (EndPoint endPoint : connector.getConnectedEndPoints()) {
      if (endPoint.getTransport() instanceof SocketChannel channel) {
        noDelay.add(channel.getOption(StandardSocketOptions.TCP_NODELAY));
      }
    }
    return noDelay;
  }

  /** The page, for every method and path. */
  private static final class Page extends Handler.Abstract {
    @Override
    public boolean handle(Request request, Response response, Callback callback)
        throws IOException {
      long bodyBytes = 0;
      try (InputStream in = Content.Source.asInputStream(request)) {
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) != -1; ) {
          bodyBytes += n;
        }
      }
      String method = request.getMethod();
      String target = request.getHttpURI().getPathQuery();
      String forwardedFor = request.getHeaders().get("X-Forwarded-For");
      String page =
          "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
              + "<title>Inverting proxy quickstart</title></head>\n<body>\n"
              + "<h1>Hello from the demo backend</h1>\n"
              + "<p>This page "
              + MARKER
              + ": the proxy parked your request, the agent collected it, forwarded it to this "
              + "backend and posted the response back.</p>\n"
              + "<p>The backend received: <code>"
              + escape(method + " " + target)
              + "</code>"
              + (bodyBytes > 0 ? " with a body of " + bodyBytes + " bytes" : "")
              + (forwardedFor != null ? ", from " + escape(forwardedFor) : "")
              + ".</p>\n</body></html>\n";
      byte[] bytes = page.getBytes(StandardCharsets.UTF_8);
      response.setStatus(200);
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/html; charset=utf-8");
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
      // one last write: head and body leave together (Jetty sends no body for HEAD)
      response.write(true, ByteBuffer.wrap(bytes), callback);
      return true;
    }
  }

  private static String escape(String text) {
    StringBuilder escaped = new StringBuilder(text.length());
    for (char c : text.toCharArray()) {
      switch (c) {
        case '<' -> escaped.append("&lt;");
        case '>' -> escaped.append("&gt;");
        case '&' -> escaped.append("&amp;");
        case '"' -> escaped.append("&quot;");
        case '\'' -> escaped.append("&#39;");
        default -> escaped.append(c);
      }
    }
    return escaped.toString();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
