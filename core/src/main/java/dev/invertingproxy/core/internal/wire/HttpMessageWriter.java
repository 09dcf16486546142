package dev.invertingproxy.core.internal.wire;

import static dev.invertingproxy.core.internal.wire.HttpSyntax.CR;
import static dev.invertingproxy.core.internal.wire.HttpSyntax.LF;
import static dev.invertingproxy.core.internal.wire.HttpSyntax.SP;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes HTTP/1.1 messages (RFC 9112): a head, then its body streamed and framed.
 *
 * <p>Heads are written as given: header order, name case and repetitions are kept, and strings are
 * encoded as ISO-8859-1. Only the framing headers are adjusted to the body, which decides the
 * framing by {@link MessageBody#contentLength()}:
 *
 * <ul>
 *   <li>a known length {@code n}: Transfer-Encoding fields are dropped; the first Content-Length
 *       field is kept in place (its value set to {@code n} if it differs), later ones are dropped;
 *       without one, {@code Content-Length: n} is appended, except for a request with {@code n ==
 *       0}. Exactly {@code n} bytes are copied.
 *   <li>an unknown length ({@code -1}): Content-Length fields are dropped; the first
 *       Transfer-Encoding field is kept in place with the value {@code chunked}, later ones are
 *       dropped; without one, {@code Transfer-Encoding: chunked} is appended. Each read from the
 *       body becomes one chunk, then the last chunk carries the body's trailers.
 *   <li>a response that has no body (to HEAD, or 1xx, 204, 304): the head is written unchanged and
 *       the body is not touched.
 * </ul>
 *
 * <p>Everything written is validated first, so that no caller-supplied string can inject a line or
 * a header: method and field names must be tokens, the request target visible ASCII, the version
 * {@code HTTP/<digit>.<digit>}, field values and the reason phrase free of control characters other
 * than HTAB (so no CR, LF or NUL) and of characters beyond ISO-8859-1. What this writer accepts,
 * {@link HttpMessageReader} accepts too. A violation throws {@link MalformedMessageException}
 * before any byte of the head is written (for trailers: before the last chunk, so the peer sees a
 * truncated message).
 *
 * <p>Streaming: the head is flushed at once unless body bytes are already at hand to go with it,
 * and after each body read the output is flushed if the body has nothing more immediately
 * {@linkplain InputStream#available() available}, so a trickling source (server-sent events)
 * reaches the peer without waiting for its next event. The end of the message is not flushed: the
 * caller flushes or ends the stream (a transport ending its message flushes it), so a small message
 * whose body is at hand leaves in one write.
 *
 * <p>The writer closes neither the output nor the body. This class is stateless and thread-safe;
 * each call uses its own buffers.
 */
public final class HttpMessageWriter {
  /** Body bytes per read, and so per chunk. */
  static final int COPY_BUFFER_SIZE = 16 * 1024;

  /** Room before a chunk's data for its size line: 8 hex digits cover any int, plus CRLF. */
  private static final int CHUNK_HEADER_ROOM = 10;

  private static final byte[] HEX = {
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'
  };

  private HttpMessageWriter() {}

  /**
   * Writes a request: the request line, the headers with framing adjusted to {@code body}, the
   * blank line and the body.
   *
   * @throws MalformedMessageException if the head or the trailers can't be written safely
   * @throws EOFException if the body ends before its declared length
   */
  public static void writeRequest(OutputStream out, RequestHead head, MessageBody body)
      throws IOException {
    long length = contentLength(body);
    List<Header> fields = frame(head.headers(), length, false);
    String method = head.method();
    String target = head.target();
    String version = head.version();
    checkVersion(version);
    byte[] bytes =
        new byte[method.length() + target.length() + version.length() + 4 + fieldsSize(fields)];
    int at = putToken(bytes, 0, method, "method");
    bytes[at++] = SP;
    at = putTarget(bytes, at, target);
    bytes[at++] = SP;
    at = putAscii(bytes, at, version);
    bytes[at++] = CR;
    bytes[at++] = LF;
    putFields(bytes, at, fields, "header");
    out.write(bytes);
    writeBody(out, body, length);
  }

  /**
   * Writes a response: the status line, the headers with framing adjusted to {@code body}, the
   * blank line and the body; a response without a body (to HEAD, or 1xx, 204, 304) is written with
   * its headers unchanged and {@code body} is not read.
   *
   * @param requestMethod the method of the request this response answers (case-sensitive)
   * @throws MalformedMessageException if the head or the trailers can't be written safely
   * @throws EOFException if the body ends before its declared length
   */
  public static void writeResponse(
      OutputStream out, ResponseHead head, MessageBody body, String requestMethod)
      throws IOException {
    boolean bodyless = HttpSyntax.isBodylessResponse(head.status(), requestMethod);
    long length = bodyless ? 0 : contentLength(body);
    // A response without framing headers runs to the end of the connection, so unlike a request
    // an empty response still needs "Content-Length: 0".
    List<Header> fields = bodyless ? head.headers().fields() : frame(head.headers(), length, true);
    String version = head.version();
    String reason = head.reason();
    checkVersion(version);
    byte[] bytes = new byte[version.length() + 5 + reason.length() + 2 + fieldsSize(fields)];
    int at = putAscii(bytes, 0, version);
    bytes[at++] = SP;
    int status = head.status();
    bytes[at++] = (byte) ('0' + status / 100);
    bytes[at++] = (byte) ('0' + status / 10 % 10);
    bytes[at++] = (byte) ('0' + status % 10);
    bytes[at++] = SP;
    at = putFieldValue(bytes, at, reason, "reason phrase");
    bytes[at++] = CR;
    bytes[at++] = LF;
    putFields(bytes, at, fields, "header");
    out.write(bytes);
    if (!bodyless) {
      writeBody(out, body, length);
    }
  }

  private static long contentLength(MessageBody body) {
    long length = body.contentLength();
    if (length < -1) {
      throw new IllegalArgumentException("contentLength must be >= -1, was " + length);
    }
    return length;
  }

  /** Returns the fields to write: {@code headers} with the framing fields fitted to the body. */
  private static List<Header> frame(Headers headers, long length, boolean zeroNeedsHeader) {
    List<Header> fields = headers.fields();
    List<Header> framed = new ArrayList<>(fields.size() + 1);
    String lengthValue = length >= 0 ? Long.toString(length) : "chunked";
    boolean hasFraming = false;
    for (int i = 0; i < fields.size(); i++) {
      Header field = fields.get(i);
      boolean isLength = field.is("Content-Length");
      if (!isLength && !field.is("Transfer-Encoding")) {
        framed.add(field);
      } else if (isLength == (length >= 0) && !hasFraming) {
        // Kept in place so that a message passed through keeps its header order.
        boolean same =
            isLength
                ? field.value().equals(lengthValue)
                : field.value().equalsIgnoreCase("chunked");
        framed.add(same ? field : new Header(field.name(), lengthValue));
        hasFraming = true;
      }
      // Else dropped: framing of the other kind, or a repetition.
    }
    if (!hasFraming) {
      if (length < 0) {
        framed.add(new Header("Transfer-Encoding", "chunked"));
      } else if (length > 0 || zeroNeedsHeader) {
        framed.add(new Header("Content-Length", lengthValue));
      }
    }
    return framed;
  }

  // ---------------------------------------------------------------------------------------------
  // Bodies

  /** Writes the body after the head; flushes the head first if no body byte is at hand. */
  private static void writeBody(OutputStream out, MessageBody body, long length)
      throws IOException {
    if (length == 0) {
      return;
    }
    InputStream in = body.stream();
    if (in.available() == 0) {
      out.flush(); // the peer gets the head now, whenever the body comes
    }
    if (length > 0) {
      copyExactly(out, in, length);
    } else {
      copyChunked(out, in, body);
    }
  }

  private static void copyExactly(OutputStream out, InputStream in, long length)
      throws IOException {
    if (length == 0) {
      return;
    }
    byte[] buffer = new byte[(int) Math.min(COPY_BUFFER_SIZE, length)];
    long remaining = length;
    while (remaining > 0) {
      // Never read past the declared length: the source may hold more than it declared.
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
      if (n < 0) {
        throw new EOFException(
            "unexpected end of body: "
                + remaining
                + " more bytes expected (Content-Length "
                + length
                + ")");
      }
      out.write(buffer, 0, n);
      remaining -= n;
      if (remaining > 0 && n > 0 && in.available() == 0) {
        out.flush();
      }
    }
  }

  private static void copyChunked(OutputStream out, InputStream in, MessageBody body)
      throws IOException {
    // One buffer holds the chunk-size line, the data and the CRLF, so each chunk is one write.
    byte[] buffer = new byte[CHUNK_HEADER_ROOM + COPY_BUFFER_SIZE + 2];
    while (true) {
      int n = in.read(buffer, CHUNK_HEADER_ROOM, COPY_BUFFER_SIZE);
      if (n < 0) {
        break;
      }
      if (n == 0) {
        continue; // a chunk of size 0 would end the body
      }
      int start = CHUNK_HEADER_ROOM;
      buffer[--start] = LF;
      buffer[--start] = CR;
      for (int size = n; size != 0; size >>>= 4) {
        buffer[--start] = HEX[size & 0xF];
      }
      int end = CHUNK_HEADER_ROOM + n;
      buffer[end++] = CR;
      buffer[end++] = LF;
      out.write(buffer, start, end - start);
      if (in.available() == 0) {
        out.flush();
      }
    }
    // The trailers are known only now that the body is at its end.
    List<Header> trailers = body.trailers().fields();
    byte[] last = new byte[3 + fieldsSize(trailers)];
    last[0] = '0';
    last[1] = CR;
    last[2] = LF;
    putFields(last, 3, trailers, "trailer");
    out.write(last);
  }

  // ---------------------------------------------------------------------------------------------
  // Encoding and validation

  /** Returns the bytes of {@code fields} as lines, plus the blank line that ends the section. */
  private static int fieldsSize(List<Header> fields) {
    int size = 2;
    for (int i = 0; i < fields.size(); i++) {
      Header field = fields.get(i);
      size += field.name().length() + 2 + field.value().length() + 2;
    }
    return size;
  }

  /** Writes {@code fields} and the blank line; returns the end. */
  private static int putFields(byte[] bytes, int at, List<Header> fields, String kind) {
    for (int i = 0; i < fields.size(); i++) {
      Header field = fields.get(i);
      at = putToken(bytes, at, field.name(), kind + " name");
      bytes[at++] = ':';
      bytes[at++] = SP;
      at = putFieldValue(bytes, at, field.value(), "value of " + kind + " " + field.name());
      bytes[at++] = CR;
      bytes[at++] = LF;
    }
    bytes[at++] = CR;
    bytes[at++] = LF;
    return at;
  }

  private static int putToken(byte[] bytes, int at, String token, String what) {
    if (token.isEmpty()) {
      throw new MalformedMessageException("empty " + what);
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (!HttpSyntax.isTchar(c)) {
        throw new MalformedMessageException(
            "invalid character " + HttpSyntax.describeChar(c) + " in " + what);
      }
      bytes[at++] = (byte) c;
    }
    return at;
  }

  private static int putTarget(byte[] bytes, int at, String target) {
    if (target.isEmpty()) {
      throw new MalformedMessageException("empty request target");
    }
    for (int i = 0; i < target.length(); i++) {
      char c = target.charAt(i);
      if (!HttpSyntax.isTargetChar(c)) {
        throw new MalformedMessageException(
            "invalid character " + HttpSyntax.describeChar(c) + " in request target");
      }
      bytes[at++] = (byte) c;
    }
    return at;
  }

  private static int putFieldValue(byte[] bytes, int at, String value, String what) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (!HttpSyntax.isFieldChar(c)) {
        // A CR or LF here would end the line early and let the rest pass for another header.
        throw new MalformedMessageException(
            "invalid character " + HttpSyntax.describeChar(c) + " in " + what);
      }
      bytes[at++] = (byte) c;
    }
    return at;
  }

  /** Writes a string already checked to be ASCII. */
  private static int putAscii(byte[] bytes, int at, String s) {
    for (int i = 0; i < s.length(); i++) {
      bytes[at++] = (byte) s.charAt(i);
    }
    return at;
  }

  private static void checkVersion(String version) {
    if (!HttpSyntax.isVersion(version)) {
      throw new MalformedMessageException(
          "invalid HTTP version \""
              + HttpSyntax.printable(version)
              + "\": expected HTTP/<digit>.<digit>");
    }
  }
}
