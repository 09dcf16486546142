package dev.invertingproxy.core.internal.wire;

import static dev.invertingproxy.core.internal.wire.WireTestSupport.bytes;
import static dev.invertingproxy.core.internal.wire.WireTestSupport.latin1;
import static dev.invertingproxy.core.internal.wire.WireTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HttpMessageWriterTest {

  private static RequestHead get(Headers headers) {
    return new RequestHead("GET", "/", "HTTP/1.1", headers);
  }

  private static RequestHead post(Headers headers) {
    return new RequestHead("POST", "/upload", "HTTP/1.1", headers);
  }

  private static ResponseHead ok(Headers headers) {
    return new ResponseHead("HTTP/1.1", 200, "OK", headers);
  }

  private static String request(RequestHead head, MessageBody body) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    HttpMessageWriter.writeRequest(out, head, body);
    return latin1(out.toByteArray());
  }

  private static String response(ResponseHead head, MessageBody body, String method)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    HttpMessageWriter.writeResponse(out, head, body, method);
    return latin1(out.toByteArray());
  }

  /** A body of unknown length whose stream serves {@code parts}, one per read. */
  private static MessageBody chunkedBody(Headers trailers, String... parts) {
    return MessageBody.of(new PartsInputStream(new ArrayList<>(), parts), -1, () -> trailers);
  }

  @Nested
  class Heads {
    @Test
    void writesTheRequestLineAndHeadersAsGiven() throws IOException {
      RequestHead head =
          new RequestHead(
              "GET",
              "/a%2Fb/c?x=%20&y=1",
              "HTTP/1.1",
              Headers.of("host", "example.com", "X-Tag", "1", "x-tag", "2", "Empty", ""));

      assertThat(request(head, MessageBody.empty()))
          .isEqualTo(
              "GET /a%2Fb/c?x=%20&y=1 HTTP/1.1\r\n"
                  + "host: example.com\r\nX-Tag: 1\r\nx-tag: 2\r\nEmpty: \r\n\r\n");
    }

    @Test
    void writesTheStatusLine() throws IOException {
      assertThat(
              response(
                  new ResponseHead("HTTP/1.1", 404, "Not Found", Headers.empty()),
                  MessageBody.of(bytes("nope")),
                  "GET"))
          .isEqualTo("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
    }

    @Test
    void writesAnEmptyReasonAfterASpace() throws IOException {
      assertThat(
              response(
                  new ResponseHead("HTTP/2.0", 204, "", Headers.empty()),
                  MessageBody.empty(),
                  "GET"))
          .isEqualTo("HTTP/2.0 204 \r\n\r\n");
    }

    @Test
    void encodesStringsAsIso88591() throws IOException {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      HttpMessageWriter.writeResponse(
          out,
          new ResponseHead(
              "HTTP/1.1", 200, "\u00c7a va", Headers.of("X-Name", "Jos\u00e9\t\u00ff")),
          MessageBody.empty(),
          "HEAD");

      assertThat(out.toByteArray())
          .isEqualTo(
              new byte[] {
                'H',
                'T',
                'T',
                'P',
                '/',
                '1',
                '.',
                '1',
                ' ',
                '2',
                '0',
                '0',
                ' ',
                (byte) 0xC7,
                'a',
                ' ',
                'v',
                'a',
                '\r',
                '\n',
                'X',
                '-',
                'N',
                'a',
                'm',
                'e',
                ':',
                ' ',
                'J',
                'o',
                's',
                (byte) 0xE9,
                '\t',
                (byte) 0xFF,
                '\r',
                '\n',
                '\r',
                '\n'
              });
    }
  }

  @Nested
  class Framing {
    @Test
    void aRequestWithAnEmptyBodyGetsNoContentLength() throws IOException {
      assertThat(request(get(Headers.of("A", "1")), MessageBody.empty()))
          .isEqualTo("GET / HTTP/1.1\r\nA: 1\r\n\r\n");
    }

    @Test
    void keepsAZeroContentLengthOfARequest() throws IOException {
      assertThat(request(post(Headers.of("Content-Length", "0", "A", "1")), MessageBody.empty()))
          .isEqualTo("POST /upload HTTP/1.1\r\nContent-Length: 0\r\nA: 1\r\n\r\n");
    }

    @Test
    void appendsAMissingContentLength() throws IOException {
      assertThat(request(post(Headers.of("A", "1")), MessageBody.of(bytes("hello"))))
          .isEqualTo("POST /upload HTTP/1.1\r\nA: 1\r\nContent-Length: 5\r\n\r\nhello");
    }

    @Test
    void keepsAMatchingContentLengthInPlace() throws IOException {
      assertThat(
              request(
                  post(Headers.of("content-length", "5", "A", "1")),
                  MessageBody.of(bytes("hello"))))
          .isEqualTo("POST /upload HTTP/1.1\r\ncontent-length: 5\r\nA: 1\r\n\r\nhello");
    }

    @Test
    void replacesAWrongContentLengthInPlaceAndDropsRepetitions() throws IOException {
      assertThat(
              request(
                  post(Headers.of("CONTENT-LENGTH", "99", "A", "1", "Content-Length", "5")),
                  MessageBody.of(bytes("hello"))))
          .isEqualTo("POST /upload HTTP/1.1\r\nCONTENT-LENGTH: 5\r\nA: 1\r\n\r\nhello");
    }

    @Test
    void dropsTransferEncodingWhenTheLengthIsKnown() throws IOException {
      assertThat(
              request(
                  post(Headers.of("Transfer-Encoding", "chunked", "A", "1")),
                  MessageBody.of(bytes("hello"))))
          .isEqualTo("POST /upload HTTP/1.1\r\nA: 1\r\nContent-Length: 5\r\n\r\nhello");
    }

    @Test
    void chunksABodyOfUnknownLengthOneChunkPerRead() throws IOException {
      assertThat(
              request(
                  post(Headers.of("Content-Length", "11", "A", "1")),
                  chunkedBody(Headers.empty(), "hello", " world", "x".repeat(300))))
          .isEqualTo(
              "POST /upload HTTP/1.1\r\nA: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + "5\r\nhello\r\n6\r\n world\r\n12c\r\n"
                  + "x".repeat(300)
                  + "\r\n0\r\n\r\n");
    }

    @Test
    void keepsAnExistingTransferEncodingInPlaceAsChunked() throws IOException {
      assertThat(
              request(
                  post(
                      Headers.of(
                          "transfer-encoding",
                          "gzip, chunked",
                          "A",
                          "1",
                          "Transfer-Encoding",
                          "chunked")),
                  chunkedBody(Headers.empty(), "hi")))
          .isEqualTo(
              "POST /upload HTTP/1.1\r\ntransfer-encoding: chunked\r\nA: 1\r\n\r\n"
                  + "2\r\nhi\r\n0\r\n\r\n");
    }

    @Test
    void writesTrailersAfterTheLastChunk() throws IOException {
      assertThat(
              request(
                  post(Headers.empty()),
                  chunkedBody(Headers.of("X-Checksum", "abc", "x-two", "2"), "data")))
          .isEqualTo(
              "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + "4\r\ndata\r\n0\r\nX-Checksum: abc\r\nx-two: 2\r\n\r\n");
    }

    @Test
    void readsTrailersOnlyAfterTheBodyEnded() throws IOException {
      PartsInputStream stream = new PartsInputStream(new ArrayList<>(), "a", "b");
      MessageBody body =
          MessageBody.of(
              stream,
              -1,
              () -> {
                assertThat(stream.ended).isTrue();
                return Headers.of("T", "1");
              });

      assertThat(request(post(Headers.empty()), body)).endsWith("0\r\nT: 1\r\n\r\n");
    }

    @Test
    void anEmptyBodyOfUnknownLengthIsTheLastChunkOnly() throws IOException {
      assertThat(request(post(Headers.empty()), chunkedBody(Headers.empty())))
          .isEqualTo("POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    }

    @Test
    void anEmptyResponseGetsContentLengthZero() throws IOException {
      // Without it the peer would read the response to the end of the connection.
      assertThat(response(ok(Headers.empty()), MessageBody.empty(), "GET"))
          .isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }

    @Test
    void framesResponsesLikeRequests() throws IOException {
      assertThat(
              response(
                  ok(Headers.of("Content-Length", "1", "Transfer-Encoding", "chunked")),
                  MessageBody.of(bytes("hello")),
                  "GET"))
          .isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
      assertThat(
              response(
                  ok(Headers.of("Content-Length", "1")), chunkedBody(Headers.empty(), "hi"), "GET"))
          .isEqualTo("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
    }

    @Test
    void aResponseToHeadKeepsItsHeadersAndHasNoBody() throws IOException {
      MessageBody untouchable =
          MessageBody.of(
              new InputStream() {
                @Override
                public int read() {
                  throw new AssertionError("the body of a bodyless response was read");
                }
              },
              -1,
              Headers::empty);

      assertThat(
              response(
                  ok(Headers.of("Content-Length", "1234", "Transfer-Encoding", "chunked")),
                  untouchable,
                  "HEAD"))
          .isEqualTo(
              "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nTransfer-Encoding: chunked\r\n\r\n");
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 101, 103, 204, 304})
    void bodylessStatusesKeepTheirHeadersAndHaveNoBody(int status) throws IOException {
      ResponseHead head =
          new ResponseHead("HTTP/1.1", status, "X", Headers.of("Content-Length", "10"));

      assertThat(response(head, MessageBody.of(bytes("ignored")), "GET"))
          .isEqualTo("HTTP/1.1 " + status + " X\r\nContent-Length: 10\r\n\r\n");
    }

    @Test
    void copiesExactlyTheDeclaredLength() throws IOException {
      InputStream longer = new ByteArrayInputStream(bytes("helloEXTRA"));

      assertThat(request(post(Headers.empty()), MessageBody.of(longer, 5, Headers::empty)))
          .endsWith("\r\n\r\nhello");
      assertThat(latin1(readAll(longer))).isEqualTo("EXTRA");
    }

    @Test
    void aBodyShorterThanItsLengthIsAnEofException() {
      MessageBody shorter =
          MessageBody.of(new ByteArrayInputStream(bytes("abcd")), 10, Headers::empty);

      assertThatThrownBy(() -> request(post(Headers.empty()), shorter))
          .isExactlyInstanceOf(EOFException.class)
          .hasMessage("unexpected end of body: 6 more bytes expected (Content-Length 10)");
    }

    @Test
    void copiesLargeBodies() throws IOException {
      byte[] data = WireTestSupport.randomBytes(100_000, 11);
      ByteArrayOutputStream out = new ByteArrayOutputStream();

      HttpMessageWriter.writeRequest(out, post(Headers.empty()), MessageBody.of(data));

      byte[] written = out.toByteArray();
      byte[] body = new byte[data.length];
      System.arraycopy(written, written.length - data.length, body, 0, data.length);
      assertThat(body).isEqualTo(data);
    }
  }

  @Nested
  class PassThrough {
    @Test
    void relaysAReadChunkedRequestWithItsHeaderOrderAndTrailers() throws IOException {
      String wire =
          "POST /a%2Fb?x=%20 HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
              + "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n";
      HttpMessageReader reader = new HttpMessageReader(new ByteArrayInputStream(bytes(wire)), 8192);
      RequestHead head = reader.readRequestHead();

      String relayed = request(head, reader.requestBody(head));

      assertThat(relayed)
          .isEqualTo(
              "POST /a%2Fb?x=%20 HTTP/1.1\r\n"
                  + "host: h\r\n"
                  + "Transfer-Encoding: chunked\r\n"
                  + "X-A: 1\r\n\r\n"
                  + "3\r\n"
                  + "abc\r\n"
                  + "2\r\n"
                  + "de\r\n"
                  + "0\r\n"
                  + "X-Sum: 5\r\n\r\n");
    }

    @Test
    void relaysAReadContentLengthResponseUnchanged() throws IOException {
      String wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\nhello";
      HttpMessageReader reader = new HttpMessageReader(new ByteArrayInputStream(bytes(wire)), 8192);
      ResponseHead head = reader.readResponseHead();

      assertThat(response(head, reader.responseBody(head, "GET"), "GET")).isEqualTo(wire);
    }
  }

  @Nested
  class Validation {
    static Stream<Arguments> unsafeRequests() {
      Headers fine = Headers.of("A", "1");
      return Stream.of(
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X", "a\r\nInjected: yes")),
              "invalid character CR in value of header X"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X", "a\nb")),
              "invalid character LF in value of header X"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X", "a\u0000b")),
              "invalid character NUL in value of header X"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X", "a\u007fb")),
              "invalid character 0x7f in value of header X"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X", "\u20ac")),
              "invalid character U+20AC in value of header X"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X Y", "1")),
              "invalid character SP in header name"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X:", "1")),
              "invalid character ':' in header name"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("X\r\nY", "1")),
              "invalid character CR in header name"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("\u00e9", "1")),
              "invalid character 0xe9 in header name"),
          Arguments.of(new RequestHead("", "/", "HTTP/1.1", fine), "empty method"),
          Arguments.of(
              new RequestHead("GET /x", "/", "HTTP/1.1", fine), "invalid character SP in method"),
          Arguments.of(new RequestHead("GET", "", "HTTP/1.1", fine), "empty request target"),
          Arguments.of(
              new RequestHead("GET", "/a b", "HTTP/1.1", fine),
              "invalid character SP in request target"),
          Arguments.of(
              new RequestHead("GET", "/\r\nX: y", "HTTP/1.1", fine),
              "invalid character CR in request target"),
          Arguments.of(
              new RequestHead("GET", "/caf\u00e9", "HTTP/1.1", fine),
              "invalid character 0xe9 in request target"),
          Arguments.of(
              new RequestHead("GET", "/", "HTTP/1.1\r\nX: y", fine), "invalid HTTP version"),
          Arguments.of(new RequestHead("GET", "/", "HTTP/11", fine), "invalid HTTP version"),
          Arguments.of(new RequestHead("GET", "/", "", fine), "invalid HTTP version"));
    }

    @ParameterizedTest
    @MethodSource("unsafeRequests")
    void refusesToWriteAnUnsafeRequestHead(RequestHead head, String message) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();

      assertThatThrownBy(() -> HttpMessageWriter.writeRequest(out, head, MessageBody.empty()))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
      assertThat(out.size()).as("nothing written").isZero();
    }

    @Test
    void refusesAnUnsafeReason() {
      ResponseHead head = new ResponseHead("HTTP/1.1", 200, "OK\r\nSet-Cookie: x", Headers.empty());
      ByteArrayOutputStream out = new ByteArrayOutputStream();

      assertThatThrownBy(
              () -> HttpMessageWriter.writeResponse(out, head, MessageBody.empty(), "GET"))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining("invalid character CR in reason phrase");
      assertThat(out.size()).isZero();
    }

    @Test
    void refusesUnsafeHeadersOfBodylessResponsesToo() {
      ResponseHead head = new ResponseHead("HTTP/1.1", 304, "", Headers.of("ETag", "a\nb"));

      assertThatThrownBy(
              () ->
                  HttpMessageWriter.writeResponse(
                      new ByteArrayOutputStream(), head, MessageBody.empty(), "GET"))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining("invalid character LF in value of header ETag");
    }

    @Test
    void refusesUnsafeTrailersBeforeTheLastChunk() {
      ByteArrayOutputStream out = new ByteArrayOutputStream();

      assertThatThrownBy(
              () ->
                  HttpMessageWriter.writeRequest(
                      out, post(Headers.empty()), chunkedBody(Headers.of("T", "a\r\nb"), "data")))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining("invalid character CR in value of trailer T");
      assertThat(latin1(out.toByteArray())).endsWith("4\r\ndata\r\n");
    }
  }

  @Nested
  class FlushThrough {
    @Test
    void flushesEachEventBeforeReadingTheNext() throws IOException {
      List<String> log = new ArrayList<>();
      PartsInputStream events =
          new PartsInputStream(log, "data: 1\n\n", "data: 2\n\n", "data: 3\n\n");
      RecordingOutputStream out = new RecordingOutputStream(log);

      HttpMessageWriter.writeResponse(
          out,
          ok(Headers.of("Content-Type", "text/event-stream")),
          MessageBody.of(events, -1, Headers::empty),
          "GET");

      assertThat(log)
          .containsExactly(
              "write", "flush", // head (no body byte at hand yet)
              "read", "write", "flush", "read", "write", "flush", "read", "write", "flush", "read",
              "write"); // end of stream, last chunk: left to the caller to flush
      assertThat(latin1(out.bytes.toByteArray()))
          .endsWith("9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n9\r\ndata: 3\n\n\r\n0\r\n\r\n");
    }

    @Test
    void flushesEachReadOfAKnownLengthBodyToo() throws IOException {
      List<String> log = new ArrayList<>();
      PartsInputStream events = new PartsInputStream(log, "ab", "cd", "ef");
      RecordingOutputStream out = new RecordingOutputStream(log);

      HttpMessageWriter.writeRequest(
          out, post(Headers.empty()), MessageBody.of(events, 6, Headers::empty));

      assertThat(log)
          .containsExactly(
              "write", "flush", "read", "write", "flush", "read", "write", "flush", "read", "write");
      assertThat(latin1(out.bytes.toByteArray())).endsWith("\r\n\r\nabcdef");
    }

    @Test
    void doesNotFlushWhileMoreIsAvailable() throws IOException {
      List<String> log = new ArrayList<>();
      PartsInputStream parts = new PartsInputStream(log, "a", "b", "c");
      parts.reportAvailable = true;
      RecordingOutputStream out = new RecordingOutputStream(log);

      HttpMessageWriter.writeRequest(
          out, post(Headers.empty()), MessageBody.of(parts, -1, Headers::empty));

      assertThat(log)
          .containsExactly(
              "write", "read", "write", "read", "write", "read", "write", "flush", "read", "write");
    }

    @Test
    void aMessageWhoseBodyIsAtHandIsNeverFlushed() throws IOException {
      List<String> log = new ArrayList<>();
      PartsInputStream parts = new PartsInputStream(log, "hello");
      parts.reportAvailable = true;
      RecordingOutputStream out = new RecordingOutputStream(log);

      HttpMessageWriter.writeResponse(out, ok(Headers.empty()), MessageBody.of(parts, 5, Headers::empty), "GET");

      // Head and body reach the caller's stream unflushed: the transport ends the message in one write.
      assertThat(log).containsExactly("write", "read", "write");
      assertThat(latin1(out.bytes.toByteArray())).endsWith("\r\n\r\nhello");
    }
  }

  /** Serves one part per read and logs each read; {@code available()} is 0 unless told. */
  static final class PartsInputStream extends InputStream {
    private final List<String> log;
    private final String[] parts;
    private int next;
    boolean reportAvailable;
    boolean ended;

    PartsInputStream(List<String> log, String... parts) {
      this.log = log;
      this.parts = parts;
    }

    @Override
    public int read() {
      throw new UnsupportedOperationException();
    }

    @Override
    public int read(byte[] b, int off, int len) {
      log.add("read");
      if (next == parts.length) {
        ended = true;
        return -1;
      }
      byte[] part = bytes(parts[next++]);
      assertThat(len).isGreaterThanOrEqualTo(part.length);
      System.arraycopy(part, 0, b, off, part.length);
      return part.length;
    }

    @Override
    public int available() {
      return reportAvailable && next < parts.length ? parts[next].length() : 0;
    }
  }

  /** Records writes and flushes in a shared log. */
  static final class RecordingOutputStream extends OutputStream {
    private final List<String> log;
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    RecordingOutputStream(List<String> log) {
      this.log = log;
    }

    @Override
    public void write(int b) {
      log.add("write");
      bytes.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      log.add("write");
      bytes.write(b, off, len);
    }

    @Override
    public void flush() {
      log.add("flush");
    }
  }
}
