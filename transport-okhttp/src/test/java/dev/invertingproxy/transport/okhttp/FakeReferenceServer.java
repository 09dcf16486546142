package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.testkit.ScriptedHttpServer;
import dev.invertingproxy.testkit.WireReader;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake of the reference stand-alone server ({@code server/server.go}; docs/protocol.md, "The
 * reference server"), on raw sockets, behaving as it does on the wire:
 *
 * <ul>
 *   <li>a call with a non-empty {@code X-Inverting-Proxy-Backend-ID} is an agent call, whatever its
 *       path: without a request ID it lists, POST posts a response, anything else reads;
 *   <li>client requests lose the fixed hop-by-hop list, get a 64-hex-digit ID and are pushed on an
 *       unbuffered channel, so the client waits until a list call takes the ID;
 *   <li>a list call blocks until an ID is there, drains the others available at once and answers
 *       them as a JSON array; after its wait (short here, 30 s in Go) it answers {@code null}, not
 *       {@code []}; {@code Content-Type: text/plain; charset=utf-8} as Go sniffs it;
 *   <li>a read answers only {@code X-Inverting-Proxy-Request-Start-Time} (RFC 3339 with nanos, no
 *       user ID) and the request as Go's {@code Request.Write} writes it: {@code Host}, then {@code
 *       User-Agent} ({@code Go-http-client/1.1} if the client sent none), then the framing header,
 *       then the other headers in Go's canonical case, sorted; a body of unknown length chunked;
 *       the client's body streamed live; 404 for an unknown ID;
 *   <li>a post is parsed as an HTTP/1.1 response (400 if it is not), relayed to the client (headers
 *       without hop-by-hop ones, chunked forced, trailers after the body), and answered 200 with an
 *       empty body once the whole body was relayed.
 * </ul>
 *
 * <p>It records what crossed it, for assertions. This class is thread-safe.
 */
final class FakeReferenceServer implements AutoCloseable {
  private static final Set<String> HOP_BY_HOP =
      Set.of(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade");
  private static final Set<String> REQUEST_WRITE_EXCLUDED =
      Set.of("Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer");
  private static final String BACKEND_ID = "X-Inverting-Proxy-Backend-ID";
  private static final String REQUEST_ID = "X-Inverting-Proxy-Request-ID";

  /** An agent's POST of a response: the POST's head and the posted bytes (the wire response). */
  record Posted(RequestHead post, byte[] wire) {}

  private record Response(ResponseHead head, MessageBody body, CompletableFuture<Void> relayed) {}

  private static final class Parked {
    final Instant start = Instant.now();
    final RequestHead head;
    final MessageBody body;
    final CompletableFuture<Response> response = new CompletableFuture<>();

    Parked(RequestHead head, MessageBody body) {
      this.head = head;
      this.body = body;
    }
  }

  private final ScriptedHttpServer http;
  private final Duration listWait;
  private final SynchronousQueue<String> ids = new SynchronousQueue<>();
  private final Map<String, Parked> parked = new ConcurrentHashMap<>();
  private final SecureRandom random = new SecureRandom();

  /** List calls received. */
  final AtomicInteger polls = new AtomicInteger();

  /** The method and target of every call the server took for a list call (any path, as Go's). */
  final List<String> listCalls = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** List calls answered {@code null}. */
  final AtomicInteger nullAnswers = new AtomicInteger();

  /** Every request head this server wrote to an agent's read, as text. */
  final LinkedBlockingQueue<String> writtenRequestHeads = new LinkedBlockingQueue<>();

  /** Every response an agent posted. */
  final LinkedBlockingQueue<Posted> posted = new LinkedBlockingQueue<>();

  FakeReferenceServer(Duration listWait) throws IOException {
    this.listWait = listWait;
    this.http = new ScriptedHttpServer(this::dispatch);
  }

  URI uri() {
    return http.uri("/");
  }

  int port() {
    return http.port();
  }

  private void dispatch(ScriptedHttpServer.Exchange exchange) throws Exception {
    Headers headers = exchange.headers();
    if (headers.first(BACKEND_ID).filter(id -> !id.isEmpty()).isPresent()) {
      if (headers.first(REQUEST_ID).isEmpty()) {
        list(exchange);
      } else if (exchange.head().method().equals("POST")) {
        post(exchange);
      } else {
        read(exchange);
      }
    } else {
      frontend(exchange);
    }
  }

  // ------------------------------------------------------------------ agent side

  private void list(ScriptedHttpServer.Exchange exchange) throws Exception {
    listCalls.add(exchange.head().method() + " " + exchange.head().target());
    polls.incrementAndGet();
    List<String> taken = new ArrayList<>();
    String first = ids.poll(listWait.toNanos(), TimeUnit.NANOSECONDS);
    if (first != null) {
      taken.add(first);
      for (String more; (more = ids.poll()) != null; ) {
        taken.add(more);
      }
    }
    String json;
    if (taken.isEmpty()) {
      nullAnswers.incrementAndGet();
      json = "null"; // a nil slice, marshalled
    } else {
      StringBuilder array = new StringBuilder("[");
      for (String id : taken) {
        array.append(array.length() > 1 ? "," : "").append('"').append(id).append('"');
      }
      json = array.append(']').toString();
    }
    exchange.respond(200, "OK", goHeaders("Content-Type", "text/plain; charset=utf-8"), json);
  }

  private void read(ScriptedHttpServer.Exchange exchange) throws IOException {
    Parked request = parked.get(exchange.headers().first(REQUEST_ID).orElse(""));
    if (request == null) {
      notFound(exchange);
      return;
    }
    long length = request.body.contentLength();
    String head = goRequestHead(request.head, length);
    writtenRequestHeads.add(head);
    exchange.write(
        "HTTP/1.1 200 OK\r\n"
            + "X-Inverting-Proxy-Request-Start-Time: "
            + rfc3339Nano(request.start)
            + "\r\n"
            + "Date: "
            + httpDate()
            + "\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n");
    OutputStream out = exchange.out();
    writeChunk(out, head.getBytes(ISO_8859_1), head.length());
    InputStream body = request.body.stream();
    byte[] buffer = new byte[8192];
    if (length >= 0) {
      for (int n; (n = body.read(buffer)) != -1; ) {
        writeChunk(out, buffer, n);
      }
    } else { // Go's request writer chunks a body of unknown length itself
      ByteArrayOutputStream chunked = new ByteArrayOutputStream();
      for (int n; (n = body.read(buffer)) != -1; ) {
        chunked.reset();
        chunked.write((Integer.toHexString(n) + "\r\n").getBytes(ISO_8859_1));
        chunked.write(buffer, 0, n);
        chunked.write("\r\n".getBytes(ISO_8859_1));
        writeChunk(out, chunked.toByteArray(), chunked.size());
      }
      byte[] last = "0\r\n\r\n".getBytes(ISO_8859_1);
      writeChunk(out, last, last.length);
    }
    exchange.write("0\r\n\r\n");
  }

  private void post(ScriptedHttpServer.Exchange exchange) throws Exception {
    Parked request = parked.get(exchange.headers().first(REQUEST_ID).orElse(""));
    if (request == null) {
      notFound(exchange);
      return;
    }
    ByteArrayOutputStream wire = new ByteArrayOutputStream();
    InputStream tee =
        new FilterInputStream(exchange.body().stream()) {
          @Override
          public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
              wire.write(b);
            }
            return b;
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
              wire.write(b, off, n);
            }
            return n;
          }
        };
    WireReader reader = new WireReader(tee);
    ResponseHead head;
    MessageBody body;
    try {
      head = reader.readResponseHead();
      body = reader.responseBody(head, request.head.method());
    } catch (IOException | RuntimeException e) {
      exchange.respond(
          400,
          "Bad Request",
          goHeaders("Content-Type", "text/plain; charset=utf-8"),
          "Failure parsing request body\n");
      return;
    }
    CompletableFuture<Void> relayed = new CompletableFuture<>();
    request.response.complete(new Response(head, body, relayed));
    try {
      relayed.get(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      exchange.respond(500, "Internal Server Error", goHeaders(), "Failure reading request body\n");
      exchange.closeAfter();
      return;
    }
    posted.add(new Posted(exchange.head(), wire.toByteArray()));
    exchange.respond(200, "OK", goHeaders("Content-Length", "0"), "");
  }

  private static void notFound(ScriptedHttpServer.Exchange exchange) throws IOException {
    exchange.respond(
        404,
        "Not Found",
        goHeaders("Content-Type", "text/plain; charset=utf-8", "X-Content-Type-Options", "nosniff"),
        "404 page not found\n");
  }

  // ------------------------------------------------------------------ client side

  private void frontend(ScriptedHttpServer.Exchange exchange) throws Exception {
    String id = newId();
    Parked request =
        new Parked(
            exchange
                .head()
                .withHeaders(
                    exchange
                        .headers()
                        .without(h -> HOP_BY_HOP.contains(h.name().toLowerCase(Locale.ROOT)))),
            exchange.body());
    parked.put(id, request);
    try {
      if (!ids.offer(id, 20, TimeUnit.SECONDS)) {
        return; // no agent took it (Go would wait for the client to give up)
      }
      Response response = request.response.get(20, TimeUnit.SECONDS);
      StringBuilder head =
          new StringBuilder(
              "HTTP/1.1 " + response.head().status() + " " + response.head().reason() + "\r\n");
      for (Header field : response.head().headers().fields()) {
        String name = field.name().toLowerCase(Locale.ROOT);
        if (!HOP_BY_HOP.contains(name) && !name.equals("content-length")) {
          head.append(field.name()).append(": ").append(field.value()).append("\r\n");
        }
      }
      head.append("Date: ").append(httpDate()).append("\r\nTransfer-Encoding: chunked\r\n\r\n");
      exchange.write(head.toString());
      OutputStream out = exchange.out();
      InputStream body = response.body().stream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = body.read(buffer)) != -1; ) {
          writeChunk(out, buffer, n);
        }
      } catch (IOException e) {
        response.relayed().completeExceptionally(e);
        exchange.cut();
        return;
      }
      StringBuilder last = new StringBuilder("0\r\n");
      for (Header field : response.body().trailers().fields()) {
        if (!HOP_BY_HOP.contains(field.name().toLowerCase(Locale.ROOT))) {
          last.append(field.name()).append(": ").append(field.value()).append("\r\n");
        }
      }
      exchange.write(last.append("\r\n").toString());
      response.relayed().complete(null);
    } finally {
      parked.remove(id);
    }
  }

  private String newId() throws NoSuchAlgorithmException {
    long n = random.nextLong() & Long.MAX_VALUE;
    byte[] digest = MessageDigest.getInstance("SHA-256").digest(Long.toString(n).getBytes(UTF_8));
    return HexFormat.of().formatHex(digest);
  }

  // ------------------------------------------------------------------ Go's formats

  /** The head of a parked request as Go's {@code Request.Write} writes it. */
  static String goRequestHead(RequestHead head, long contentLength) {
    StringBuilder out = new StringBuilder();
    out.append(head.method()).append(' ').append(head.target()).append(" HTTP/1.1\r\n");
    out.append("Host: ").append(head.headers().first("Host").orElse("")).append("\r\n");
    out.append("User-Agent: ")
        .append(head.headers().first("User-Agent").orElse("Go-http-client/1.1"))
        .append("\r\n");
    if (contentLength > 0) {
      out.append("Content-Length: ").append(contentLength).append("\r\n");
    } else if (contentLength < 0) {
      out.append("Transfer-Encoding: chunked\r\n");
    }
    Map<String, List<String>> sorted = new TreeMap<>();
    for (Header field : head.headers().fields()) {
      String name = canonical(field.name());
      if (!REQUEST_WRITE_EXCLUDED.contains(name)) {
        sorted.computeIfAbsent(name, k -> new ArrayList<>()).add(field.value());
      }
    }
    sorted.forEach(
        (name, values) ->
            values.forEach(value -> out.append(name).append(": ").append(value).append("\r\n")));
    return out.append("\r\n").toString();
  }

  /**
   * Go's {@code textproto.CanonicalMIMEHeaderKey}: {@code x-custom-CASE} → {@code X-Custom-Case}.
   */
  static String canonical(String name) {
    StringBuilder out = new StringBuilder(name.length());
    boolean upper = true;
    for (char c : name.toCharArray()) {
      if (c == ' ' || c > 0x7e) {
        return name; // Go leaves keys with invalid characters alone
      }
      out.append(upper ? Character.toUpperCase(c) : Character.toLowerCase(c));
      upper = c == '-';
    }
    return out.toString();
  }

  /** {@code time.RFC3339Nano}: nanoseconds without trailing zeros. */
  static String rfc3339Nano(Instant instant) {
    String seconds =
        DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss")
            .format(instant.atOffset(ZoneOffset.UTC));
    String nanos = String.format("%09d", instant.getNano()).replaceAll("0+$", "");
    return seconds + (nanos.isEmpty() ? "" : "." + nanos) + "Z";
  }

  private static String httpDate() {
    return DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC));
  }

  private static Headers goHeaders(String... namesAndValues) {
    return Headers.builder().add("Date", httpDate()).addAll(Headers.of(namesAndValues)).build();
  }

  private static void writeChunk(OutputStream out, byte[] bytes, int n) throws IOException {
    if (n == 0) {
      return;
    }
    out.write((Integer.toHexString(n) + "\r\n").getBytes(ISO_8859_1));
    out.write(bytes, 0, n);
    out.write("\r\n".getBytes(ISO_8859_1));
    out.flush();
  }

  @Override
  public void close() throws IOException {
    http.close();
  }
}
