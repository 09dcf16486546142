package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A one-exchange HTTP server on 127.0.0.1 that records the request head's bytes exactly and answers
 * with canned bytes. MockWebServer decodes header lines as UTF-8; this sees raw bytes.
 */
final class RawBackend implements AutoCloseable {
  private final ServerSocket server;
  private final CompletableFuture<byte[]> head = new CompletableFuture<>();

  RawBackend(String response) throws IOException {
    server = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
    byte[] responseBytes = response.getBytes(ISO_8859_1);
    Thread thread =
        new Thread(
            () -> {
              try (Socket socket = server.accept()) {
                head.complete(readHead(socket.getInputStream()));
                socket.getOutputStream().write(responseBytes);
                socket.getOutputStream().flush();
              } catch (IOException | RuntimeException e) {
                head.completeExceptionally(e);
              }
            },
            "raw-backend");
    thread.setDaemon(true);
    thread.start();
  }

  URI uri() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  /** Returns the request head as a byte string (ISO-8859-1), up to and including CRLF CRLF. */
  String requestHead() throws Exception {
    return new String(head.get(5, TimeUnit.SECONDS), ISO_8859_1);
  }

  private static byte[] readHead(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int matched = 0;
    byte[] end = {'\r', '\n', '\r', '\n'};
    for (int b; matched < 4 && (b = in.read()) != -1; ) {
      out.write(b);
      matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return out.toByteArray();
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
