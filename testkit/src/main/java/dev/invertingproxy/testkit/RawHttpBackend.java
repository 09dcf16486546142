package dev.invertingproxy.testkit;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A backend on a plain server socket that records every request exactly as it arrived (start line,
 * header order and case, body bytes, trailers) and answers with bytes the test scripts. It parses
 * with the project's codec, which has its own tests; nothing normalizes headers on the way.
 */
public final class RawHttpBackend implements AutoCloseable {

  /** A request as the backend received it. */
  public record Received(RequestHead head, byte[] body, long contentLength, Headers trailers) {
    public String bodyText() {
      return new String(body, StandardCharsets.ISO_8859_1);
    }
  }

  /** Writes a whole raw response for a received request. */
  @FunctionalInterface
  public interface Responder {
    void respond(Received request, OutputStream out) throws IOException;
  }

  private final ServerSocket server;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  public final LinkedBlockingQueue<Received> received = new LinkedBlockingQueue<>();
  /** Answers a request whose body it reads itself, as it streams (nothing is buffered or kept). */
  @FunctionalInterface
  public interface StreamingResponder {
    void respond(RequestHead head, MessageBody body, OutputStream out) throws IOException;
  }

  /**
   * Answers with access to the connection's input too: after the request, a read of {@code in}
   * returns -1 when the peer closes the connection, which is how a test sees a call aborted.
   */
  @FunctionalInterface
  public interface ConnectionResponder {
    void respond(Received request, InputStream in, OutputStream out) throws IOException;
  }

  private volatile Responder responder = RawHttpBackend::echo;
  private volatile ConnectionResponder connectionResponder;
  private volatile StreamingResponder streaming;

  public RawHttpBackend() throws IOException {
    server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    threads.execute(this::accept);
  }

  public URI uri() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  public void respondWith(Responder responder) {
    this.streaming = null;
    this.connectionResponder = null;
    this.responder = responder;
  }

  /**
   * Answers with {@code responder}, which gets the body as a stream; such requests are not
   * recorded in {@link #received}. The responder must read the body to its end.
   */
  public void respondWithConnection(ConnectionResponder responder) {
    this.streaming = null;
    this.connectionResponder = responder;
  }

  /** See {@link StreamingResponder}. */
  public void respondStreaming(StreamingResponder responder) {
    this.streaming = responder;
  }

  public Received take() throws InterruptedException {
    Received request = received.poll(10, TimeUnit.SECONDS);
    if (request == null) {
      throw new AssertionError("the backend received no request within 10 s");
    }
    return request;
  }

  /** 200 with the method, target and body echoed back. */
  public static void echo(Received request, OutputStream out) throws IOException {
    byte[] prefix =
        (request.head().method() + " " + request.head().target() + "\n")
            .getBytes(StandardCharsets.ISO_8859_1);
    String head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
            + (prefix.length + request.body().length)
            + "\r\n\r\n";
    out.write(head.getBytes(StandardCharsets.ISO_8859_1));
    out.write(prefix);
    out.write(request.body());
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket socket = server.accept();
        sockets.add(socket);
        threads.execute(() -> serve(socket));
      } catch (IOException | RuntimeException e) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      InputStream in = socket.getInputStream();
      OutputStream out = socket.getOutputStream();
      HttpMessageReader reader = new HttpMessageReader(in, 64 * 1024);
      while (true) {
        RequestHead head;
        try {
          head = reader.readRequestHead();
        } catch (IOException | RuntimeException endOfConnection) {
          return;
        }
        MessageBody body = reader.requestBody(head);
        StreamingResponder streamingResponder = streaming;
        if (streamingResponder != null) {
          streamingResponder.respond(head, body, out);
          out.flush();
          continue;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        body.stream().transferTo(bytes);
        Received request = new Received(head, bytes.toByteArray(), body.contentLength(), body.trailers());
        received.add(request);
        ConnectionResponder withConnection = connectionResponder;
        if (withConnection != null) {
          withConnection.respond(request, in, out);
        } else {
          responder.respond(request, out);
        }
        out.flush();
      }
    } catch (IOException | RuntimeException e) {
      // connection ended
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket socket : sockets) {
      socket.close();
    }
    threads.shutdownNow();
  }
}
