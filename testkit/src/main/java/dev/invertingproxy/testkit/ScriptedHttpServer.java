package dev.invertingproxy.testkit;

import dev.invertingproxy.Header;
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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 server on a plain loopback socket whose answers a test scripts, byte by byte if it
 * wants: a fake proxy for an agent transport, a fake backend, a fake reference server. Each request
 * head is parsed with the project's codec (order, case and repetitions kept, target raw) and
 * recorded; the {@link Handler} then reads the body as a stream, at its own pace, and writes
 * whatever bytes it likes. Connections are kept alive between exchanges unless the handler closes
 * them.
 *
 * <p>This class is thread-safe; each connection is served on its own thread.
 */
public final class ScriptedHttpServer implements AutoCloseable {

  /** Answers one exchange. Runs on the connection's thread; may block (bounded, please). */
  @FunctionalInterface
  public interface Handler {
    void handle(Exchange exchange) throws Exception;
  }

  /** Answers 404 to everything. */
  public static final Handler NOT_FOUND =
      exchange -> exchange.respond(404, "Not Found", Headers.empty(), "404 page not found\n");

  private final ServerSocket server;
  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          runnable -> {
            Thread thread = new Thread(runnable, "scripted-http-server");
            thread.setDaemon(true);
            return thread;
          });
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger requestCount = new AtomicInteger();
  private volatile Handler handler;

  /** Every request head received, in arrival order. */
  public final LinkedBlockingQueue<RequestHead> requests = new LinkedBlockingQueue<>();

  /** Starts a server on 127.0.0.1 and a free port. */
  public ScriptedHttpServer(Handler handler) throws IOException {
    this.handler = handler;
    server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    threads.execute(this::accept);
  }

  /** Returns {@code http://127.0.0.1:port} followed by {@code path}. */
  public URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.getLocalPort() + path);
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Replaces the handler for the exchanges that start from now on. */
  public void handler(Handler newHandler) {
    this.handler = newHandler;
  }

  /** Returns how many request heads arrived so far. */
  public int requestCount() {
    return requestCount.get();
  }

  /** Returns how many connections were accepted so far. */
  public int connectionCount() {
    return connections.get();
  }

  /** Waits up to 10 s for the next request head. */
  public RequestHead takeRequest() throws InterruptedException {
    RequestHead head = requests.poll(10, TimeUnit.SECONDS);
    if (head == null) {
      throw new AssertionError("no request reached " + uri("") + " within 10 s");
    }
    return head;
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket socket = server.accept();
        connections.incrementAndGet();
        sockets.add(socket);
        threads.execute(() -> serve(socket));
      } catch (IOException | RuntimeException e) {
        return;
      }
    }
  }

  private void serve(Socket socket) {
    try (socket) {
      socket.setSoTimeout(30_000);
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
        requestCount.incrementAndGet();
        requests.add(head);
        Exchange exchange = new Exchange(socket, head, reader.requestBody(head), out);
        handler.handle(exchange);
        out.flush();
        if (exchange.closeAfter) {
          return;
        }
        // Whatever the handler left unread is discarded, so the next head can be read.
        exchange.body.stream().transferTo(OutputStream.nullOutputStream());
      }
    } catch (Exception | AssertionError e) {
      // the connection ended, or the script failed: either way this connection is over
    } finally {
      sockets.remove(socket);
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

  /**
   * One request and the way to answer it.
   *
   * <p>This class is not thread-safe: the handler's thread uses it.
   */
  public static final class Exchange {
    private final Socket socket;
    private final RequestHead head;
    private final MessageBody body;
    private final OutputStream out;
    private boolean closeAfter;

    Exchange(Socket socket, RequestHead head, MessageBody body, OutputStream out) {
      this.socket = socket;
      this.head = head;
      this.body = body;
      this.out = out;
    }

    /** The request head as received. */
    public RequestHead head() {
      return head;
    }

    /** The request's headers as received. */
    public Headers headers() {
      return head.headers();
    }

    /** The request body, streaming from the socket (transfer coding removed). */
    public MessageBody body() {
      return body;
    }

    /**
     * Reads the whole body.
     *
     * @throws IOException if it ended early (the peer aborted it)
     */
    public byte[] readBody() throws IOException {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      body.stream().transferTo(bytes);
      return bytes.toByteArray();
    }

    /** Reads exactly {@code n} body bytes, or fewer if the body ends first. */
    public byte[] readBody(int n) throws IOException {
      return body.stream().readNBytes(n);
    }

    /** The raw output: write any bytes, framing included. */
    public OutputStream out() {
      return out;
    }

    /** Writes raw text (ISO-8859-1) and flushes. */
    public void write(String raw) throws IOException {
      out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    /** Answers with a body of known length ({@code Content-Length} is added if missing). */
    public void respond(int status, String reason, Headers headers, String body)
        throws IOException {
      respond(status, reason, headers, body.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Answers with a body of known length ({@code Content-Length} is added if missing). */
    public void respond(int status, String reason, Headers headers, byte[] body)
        throws IOException {
      StringBuilder head = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason);
      head.append("\r\n");
      for (Header field : headers.fields()) {
        head.append(field.name()).append(": ").append(field.value()).append("\r\n");
      }
      if (!headers.contains("Content-Length") && !headers.contains("Transfer-Encoding")) {
        head.append("Content-Length: ").append(body.length).append("\r\n");
      }
      head.append("\r\n");
      out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
    }

    /** Closes the connection once the handler returns (and keeps nothing alive). */
    public void closeAfter() {
      closeAfter = true;
    }

    /** Closes the connection now, without any further byte: the peer sees it cut. */
    public void cut() throws IOException {
      closeAfter = true;
      socket.close();
    }
  }
}
