package dev.invertingproxy.testkit;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads HTTP/1.1 messages from raw bytes with the project's strict codec, for tests that play a
 * peer by hand (the codec itself is not public API). Head and body separately, to check streaming,
 * or whole messages. A body that ends early throws {@link java.io.EOFException}.
 *
 * <p>This class is not thread-safe.
 */
public final class WireReader {
  /** A whole request as read: head, body bytes, declared length (-1 if chunked), trailers. */
  public record Request(RequestHead head, byte[] body, long contentLength, Headers trailers) {
    public String bodyText() {
      return new String(body, StandardCharsets.ISO_8859_1);
    }
  }

  /** A whole response as read: head, body bytes, declared length (-1 if not), trailers. */
  public record Response(ResponseHead head, byte[] body, long contentLength, Headers trailers) {
    public int status() {
      return head.status();
    }

    public String bodyText() {
      return new String(body, StandardCharsets.ISO_8859_1);
    }
  }

  private final HttpMessageReader reader;

  /** Reads from {@code in}, which it never closes; heads up to 64 KiB. */
  public WireReader(InputStream in) {
    this.reader = new HttpMessageReader(in, 64 * 1024);
  }

  /** Parses {@code wire} as exactly one request. */
  public static Request parseRequest(byte[] wire) throws IOException {
    return new WireReader(new ByteArrayInputStream(wire)).readRequest();
  }

  /** Parses {@code wire} as exactly one response to a {@code method} request. */
  public static Response parseResponse(byte[] wire, String method) throws IOException {
    return new WireReader(new ByteArrayInputStream(wire)).readResponse(method);
  }

  public RequestHead readRequestHead() throws IOException {
    return reader.readRequestHead();
  }

  public ResponseHead readResponseHead() throws IOException {
    return reader.readResponseHead();
  }

  /** The body of the request head just read, streaming; read it to its end before the next head. */
  public MessageBody requestBody(RequestHead head) {
    return reader.requestBody(head);
  }

  /**
   * The body of the response head just read, streaming; read it to its end before the next head.
   */
  public MessageBody responseBody(ResponseHead head, String requestMethod) {
    return reader.responseBody(head, requestMethod);
  }

  /** Reads a whole request. */
  public Request readRequest() throws IOException {
    RequestHead head = readRequestHead();
    MessageBody body = requestBody(head);
    byte[] bytes = body.stream().readAllBytes();
    return new Request(head, bytes, body.contentLength(), body.trailers());
  }

  /** Reads a whole response to a {@code method} request. */
  public Response readResponse(String method) throws IOException {
    ResponseHead head = readResponseHead();
    MessageBody body = responseBody(head, method);
    byte[] bytes = body.stream().readAllBytes();
    return new Response(head, bytes, body.contentLength(), body.trailers());
  }
}
