package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 server on 127.0.0.1 that, like every real server, closes a keep-alive connection
 * that stays idle for {@code idle} (nginx: 75 s, Node.js: 5 s, gunicorn: 2 s). Answers each
 * request {@code 200 ok}; counts connections and requests.
 */
final class IdleClosingBackend implements AutoCloseable {
  private final ServerSocket server;
  private final int idleMillis;
  final AtomicInteger connections = new AtomicInteger();
  final AtomicInteger requests = new AtomicInteger();

  IdleClosingBackend(Duration idle) throws IOException {
    this.server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    this.idleMillis = (int) idle.toMillis();
    Thread acceptor = new Thread(this::accept, "idle-closing-backend");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  URI uri() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket socket = server.accept();
        connections.incrementAndGet();
        Thread serve = new Thread(() -> serve(socket), "idle-closing-backend-connection");
        serve.setDaemon(true);
        serve.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSoTimeout(idleMillis);
      InputStream in = socket.getInputStream();
      OutputStream out = socket.getOutputStream();
      while (true) {
        String head;
        try {
          head = readHead(in);
        } catch (SocketTimeoutException idle) {
          return; // the keep-alive time-out: close
        }
        if (head == null) {
          return;
        }
        requests.incrementAndGet();
        long length = contentLength(head);
        in.readNBytes((int) length);
        out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(ISO_8859_1));
        out.flush();
      }
    } catch (IOException e) {
      // the client left
    }
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(ISO_8859_1);
  }

  private static long contentLength(String head) {
    for (String line : head.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).equalsIgnoreCase("Content-Length")) {
        return Long.parseLong(line.substring(colon + 1).strip());
      }
    }
    return 0;
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
