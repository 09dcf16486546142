package dev.invertingproxy.samples;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The quickstart's private backend: a tiny page on 127.0.0.1 (a free port) that says it came
 * through the inverting proxy and echoes the request's method and target.
 */
final class DemoBackend implements AutoCloseable {
  /** Text every page of the demo backend contains. */
  static final String MARKER = "came through the inverting proxy";

  private final HttpServer server;
  private final ExecutorService threads;

  private DemoBackend(HttpServer server, ExecutorService threads) {
    this.server = server;
    this.threads = threads;
  }

  static DemoBackend start() throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
    AtomicInteger count = new AtomicInteger();
    ExecutorService threads =
        Executors.newCachedThreadPool(
            runnable -> {
              Thread thread = new Thread(runnable, "demo-backend-" + count.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    server.createContext("/", DemoBackend::handle);
    server.setExecutor(threads);
    server.start();
    return new DemoBackend(server, threads);
  }

  /** {@code http://127.0.0.1:port}. */
  URI uri() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  private static void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      long bodyBytes = 0;
      try (InputStream in = exchange.getRequestBody()) {
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) != -1; ) {
          bodyBytes += n;
        }
      }
      String method = exchange.getRequestMethod();
      String target = exchange.getRequestURI().toString();
      String forwardedFor = exchange.getRequestHeaders().getFirst("X-Forwarded-For");
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
      exchange.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
      exchange.getResponseHeaders().set("Cache-Control", "no-store");
      if (method.equals("HEAD")) {
        exchange.sendResponseHeaders(200, -1);
        return;
      }
      exchange.sendResponseHeaders(200, bytes.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
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
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
