package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The quickstart's demo backend over a real kept-alive connection on 127.0.0.1, as the agent uses
 * it.
 */
class DemoBackendTest {
  private DemoBackend backend;
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  private record Answer(String statusLine, Map<String, String> headers, String body) {}

  @BeforeEach
  void connect() throws Exception {
    backend = DemoBackend.start();
    socket = new Socket("127.0.0.1", backend.uri().getPort());
    socket.setSoTimeout(10_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  @AfterEach
  void close() throws Exception {
    socket.close();
    backend.close();
  }

  /**
   * The regression guard for the quickstart's speed: a connection without TCP_NODELAY let the
   * response body wait for the agent's delayed ACK (about 40 ms a request on a kept-alive
   * connection). Read from the server's own socket of this connection.
   */
  @Test
  void itsConnectionsHaveTcpNoDelay() throws Exception {
    Answer answer = exchange("GET /hello HTTP/1.1\r\nHost: demo\r\n\r\n");
    assertThat(answer.statusLine()).isEqualTo("HTTP/1.1 200 OK");
    assertThat(backend.openConnectionsNoDelay()).containsExactly(true);
  }

  @Test
  void echoesMethodTargetAndForwardedForEscaped() throws Exception {
    Answer answer =
        exchange(
            "GET /hello/a%2Fb?q=%3Cx%3E&r=\"1\" HTTP/1.1\r\nHost: demo\r\n"
                + "X-Forwarded-For: <script>\r\n\r\n");
    assertThat(answer.statusLine()).isEqualTo("HTTP/1.1 200 OK");
    assertThat(answer.headers())
        .containsEntry("content-type", "text/html; charset=utf-8")
        .containsEntry("cache-control", "no-store");
    assertThat(answer.body())
        .contains(DemoBackend.MARKER)
        .contains("<code>GET /hello/a%2Fb?q=%3Cx%3E&amp;r=&quot;1&quot;</code>")
        .contains(", from &lt;script&gt;.")
        .doesNotContain("<script>");
  }

  @Test
  void keepsTheConnectionForPostAndHead() throws Exception {
    Answer post =
        exchange(
            "POST /form HTTP/1.1\r\nHost: demo\r\nContent-Type: text/plain\r\n"
                + "Content-Length: 5\r\n\r\nhello");
    assertThat(post.body()).contains("POST /form").contains("with a body of 5 bytes");

    Answer head = exchange("HEAD /page HTTP/1.1\r\nHost: demo\r\n\r\n");
    assertThat(head.statusLine()).isEqualTo("HTTP/1.1 200 OK");
    assertThat(Integer.parseInt(head.headers().get("content-length"))).isPositive();
    assertThat(head.body()).isEmpty();

    // the same connection still frames the next answer right: HEAD sent no body
    Answer get = exchange("GET /after-head HTTP/1.1\r\nHost: demo\r\n\r\n");
    assertThat(get.statusLine()).isEqualTo("HTTP/1.1 200 OK");
    assertThat(get.body()).contains("GET /after-head");
    assertThat(backend.openConnectionsNoDelay()).containsExactly(true);
  }

  /** Sends {@code request} and reads one answer (a body only by Content-Length, none for HEAD). */
  private Answer exchange(String request) throws IOException {
    out.write(request.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    String[] head = readHead().split("\r\n");
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < head.length; i++) {
      int colon = head[i].indexOf(':');
      headers.put(
          head[i].substring(0, colon).toLowerCase(Locale.ROOT), head[i].substring(colon + 1).trim());
    }
    byte[] body = new byte[0];
    if (!request.startsWith("HEAD ")) {
      body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
    }
    return new Answer(head[0], headers, new String(body, StandardCharsets.UTF_8));
  }

  private String readHead() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b == -1) {
        throw new IOException("connection closed after " + head);
      }
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String text = head.toString(StandardCharsets.ISO_8859_1);
    return text.substring(0, text.length() - 4);
  }
}
