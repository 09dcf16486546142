package dev.invertingproxy.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * The backend of the large-transfer runs, in its own JVM: {@code GET /bytes/N} streams N bytes
 * (with {@code Content-Length}); {@code POST /sink} reads the whole body and answers with the
 * number of bytes it read, so the benchmark can check that nothing was lost. Binds to 127.0.0.1.
 *
 * <p>Usage: {@code BenchBackend PORT}
 */
public final class BenchBackend {
  private static final byte[] BLOCK = new byte[64 * 1024];

  static {
    for (int i = 0; i < BLOCK.length; i++) {
      BLOCK[i] = (byte) (i * 31 + 7);
    }
  }

  private BenchBackend() {}

  public static void main(String[] args) throws IOException {
    int port = Integer.parseInt(args[0]);
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.createContext("/bytes/", BenchBackend::bytes);
    server.createContext("/sink", BenchBackend::sink);
    server.start();
    System.out.println("bench backend on http://127.0.0.1:" + server.getAddress().getPort());
  }

  private static void bytes(HttpExchange exchange) throws IOException {
    try (exchange) {
      exchange.getRequestBody().readAllBytes();
      long length = Long.parseLong(exchange.getRequestURI().getPath().substring("/bytes/".length()));
      exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
      exchange.sendResponseHeaders(200, length == 0 ? -1 : length);
      try (OutputStream out = exchange.getResponseBody()) {
        long left = length;
        while (left > 0) {
          int n = (int) Math.min(left, BLOCK.length);
          out.write(BLOCK, 0, n);
          left -= n;
        }
      }
    }
  }

  private static void sink(HttpExchange exchange) throws IOException {
    try (exchange) {
      long count = 0;
      byte[] buffer = new byte[64 * 1024];
      try (InputStream in = exchange.getRequestBody()) {
        int n;
        while ((n = in.read(buffer)) != -1) {
          count += n;
        }
      }
      byte[] answer = Long.toString(count).getBytes(StandardCharsets.US_ASCII);
      exchange.getResponseHeaders().set("Content-Type", "text/plain");
      exchange.sendResponseHeaders(200, answer.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(answer);
      }
    }
  }
}
