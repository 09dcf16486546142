package dev.invertingproxy.testkit;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A client on a plain socket: sends exact bytes, reads responses with the project's codec. */
public final class RawHttpClient implements AutoCloseable {
  public final Socket socket;
  private final HttpMessageReader reader;

  public record Response(ResponseHead head, byte[] body, long contentLength, Headers trailers) {
    public int status() {
      return head.status();
    }

    public Headers headers() {
      return head.headers();
    }

    public String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  public RawHttpClient(int port) throws IOException {
    socket = new Socket(InetAddress.getLoopbackAddress(), port);
    socket.setSoTimeout(30_000);
    reader = new HttpMessageReader(socket.getInputStream(), 64 * 1024);
  }

  public void send(String text) throws IOException {
    send(text.getBytes(StandardCharsets.ISO_8859_1));
  }

  public void send(byte[] bytes) throws IOException {
    socket.getOutputStream().write(bytes);
    socket.getOutputStream().flush();
  }

  /** Reads one whole response to a request made with {@code method}. */
  public Response read(String method) throws IOException {
    ResponseHead head = reader.readResponseHead();
    MessageBody body = reader.responseBody(head, method);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    body.stream().transferTo(bytes);
    return new Response(head, bytes.toByteArray(), body.contentLength(), body.trailers());
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
