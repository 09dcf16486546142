package dev.invertingproxy.transport.servlet;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.testkit.WireReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Speaks to the proxy over raw sockets exactly as the reference Go agent's HTTP client does
 * (docs/protocol.md, "The reference agent"), byte for byte:
 *
 * <ul>
 *   <li>Go's request writer puts {@code Host} and {@code User-Agent: Go-http-client/1.1} first,
 *       then the framing header, then the other headers sorted by name and in Go's canonical case
 *       ({@code X-Inverting-Proxy-Backend-Id}, not {@code -ID}), then the transport's own {@code
 *       Accept-Encoding: gzip};
 *   <li>the oauth2 transport sets {@code Authorization: Bearer <token>} on every call;
 *   <li>the response POST has an unknown length, so it is sent chunked, with {@code Content-Type:
 *       text/plain}.
 * </ul>
 *
 * <p>Answers are read with the project's codec; a gzip answer is decoded, as Go's transport does
 * when it asked for gzip itself. This class is not thread-safe.
 */
final class GoStyleAgent implements AutoCloseable {
  /** An answer of the proxy. */
  record Answer(ResponseHead head, byte[] body) {
    int status() {
      return head.status();
    }

    Headers headers() {
      return head.headers();
    }

    String text() {
      return new String(body, ISO_8859_1);
    }
  }

  private final URI proxy;
  private final String token;
  private final String backendId;
  private Socket connection;
  private WireReader reader;

  GoStyleAgent(URI proxy, String token, String backendId) {
    this.proxy = proxy;
    this.token = token;
    this.backendId = backendId;
  }

  private String host() {
    return proxy.getHost() + ":" + proxy.getPort();
  }

  /** {@code GET {proxy}agent/pending}, on the kept-alive connection. */
  Answer pending() throws IOException {
    return onConnection(
        "GET "
            + proxy.getRawPath()
            + "agent/pending HTTP/1.1\r\n"
            + "Host: "
            + host()
            + "\r\n"
            + "User-Agent: Go-http-client/1.1\r\n"
            + "Authorization: Bearer "
            + token
            + "\r\n"
            + "X-Inverting-Proxy-Backend-Id: "
            + backendId
            + "\r\n"
            + "Accept-Encoding: gzip\r\n"
            + "\r\n",
        "GET");
  }

  /** Polls until the proxy offers work (bounded); returns the IDs. */
  List<String> pendingUntilWork() throws IOException {
    for (int i = 0; i < 30; i++) {
      Answer answer = pending();
      if (answer.status() != 200) {
        throw new AssertionError(
            "agent/pending answered " + answer.status() + ": " + answer.text());
      }
      List<String> ids = JsonIds.parse(answer.text());
      if (!ids.isEmpty()) {
        return ids;
      }
    }
    throw new AssertionError("no request was offered");
  }

  /** The head of {@code GET {proxy}agent/request} as Go writes it. */
  String readRequestHead(String requestId) {
    return "GET "
        + proxy.getRawPath()
        + "agent/request HTTP/1.1\r\n"
        + "Host: "
        + host()
        + "\r\n"
        + "User-Agent: Go-http-client/1.1\r\n"
        + "Authorization: Bearer "
        + token
        + "\r\n"
        + "X-Inverting-Proxy-Backend-Id: "
        + backendId
        + "\r\n"
        + "X-Inverting-Proxy-Request-Id: "
        + requestId
        + "\r\n"
        + "Accept-Encoding: gzip\r\n"
        + "\r\n";
  }

  /** {@code GET {proxy}agent/request}, on the kept-alive connection. */
  Answer read(String requestId) throws IOException {
    return onConnection(readRequestHead(requestId), "GET");
  }

  /**
   * {@code POST {proxy}agent/response} on a connection of its own, as Go's transport sends a body
   * of unknown length: chunked, one chunk per write of {@code parts}.
   */
  Answer post(String requestId, String... parts) throws IOException {
    try (Socket socket = open()) {
      OutputStream out = socket.getOutputStream();
      try {
        out.write(postHead(requestId).getBytes(ISO_8859_1));
        for (String part : parts) {
          byte[] bytes = part.getBytes(ISO_8859_1);
          out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(ISO_8859_1));
          out.write(bytes);
          out.write("\r\n".getBytes(ISO_8859_1));
          out.flush();
        }
        out.write("0\r\n\r\n".getBytes(ISO_8859_1));
        out.flush();
      } catch (IOException refusedEarly) {
        // The proxy may answer a refused post (409) before its body is sent, and close: as Go's
        // transport does, read the answer that came.
        try {
          return answer(new WireReader(socket.getInputStream()), "POST");
        } catch (IOException noAnswer) {
          refusedEarly.addSuppressed(noAnswer);
          throw refusedEarly;
        }
      }
      return answer(new WireReader(socket.getInputStream()), "POST");
    }
  }

  String postHead(String requestId) {
    return "POST "
        + proxy.getRawPath()
        + "agent/response HTTP/1.1\r\n"
        + "Host: "
        + host()
        + "\r\n"
        + "User-Agent: Go-http-client/1.1\r\n"
        + "Transfer-Encoding: chunked\r\n"
        + "Authorization: Bearer "
        + token
        + "\r\n"
        + "Content-Type: text/plain\r\n"
        + "X-Inverting-Proxy-Backend-Id: "
        + backendId
        + "\r\n"
        + "X-Inverting-Proxy-Request-Id: "
        + requestId
        + "\r\n"
        + "Accept-Encoding: gzip\r\n"
        + "\r\n";
  }

  /** Opens a new connection to the proxy. */
  Socket open() throws IOException {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.getPort());
    socket.setSoTimeout(20_000);
    return socket;
  }

  private Answer onConnection(String request, String method) throws IOException {
    if (connection == null) {
      connection = open();
      reader = new WireReader(connection.getInputStream());
    }
    connection.getOutputStream().write(request.getBytes(ISO_8859_1));
    connection.getOutputStream().flush();
    Answer answer = answer(reader, method);
    if (answer.headers().first("Connection").filter("close"::equalsIgnoreCase).isPresent()) {
      close();
    }
    return answer;
  }

  private static Answer answer(WireReader reader, String method) throws IOException {
    ResponseHead head = reader.readResponseHead();
    MessageBody body = reader.responseBody(head, method);
    byte[] bytes = body.stream().readAllBytes();
    if (head.headers().first("Content-Encoding").filter("gzip"::equalsIgnoreCase).isPresent()) {
      try (InputStream gunzip = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
        bytes = gunzip.readAllBytes();
      }
    }
    return new Answer(head, bytes);
  }

  @Override
  public void close() throws IOException {
    if (connection != null) {
      connection.close();
      connection = null;
    }
  }

  /** The Go agent decodes the list with encoding/json into []string. */
  static final class JsonIds {
    private JsonIds() {}

    static List<String> parse(String json) {
      String text = json.strip();
      if (text.isEmpty() || text.equals("null") || text.equals("[]")) {
        return List.of();
      }
      if (!text.matches("\\[\\s*\"[^\"\\\\]*\"(\\s*,\\s*\"[^\"\\\\]*\")*\\s*]")) {
        throw new AssertionError("not a JSON array of plain strings: " + json);
      }
      return List.of(text.substring(1, text.length() - 1).replace("\"", "").split("\\s*,\\s*"))
          .stream()
          .map(String::strip)
          .toList();
    }
  }
}
