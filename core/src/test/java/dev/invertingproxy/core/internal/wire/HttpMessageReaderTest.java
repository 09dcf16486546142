package dev.invertingproxy.core.internal.wire;

import static dev.invertingproxy.core.internal.wire.WireTestSupport.bytes;
import static dev.invertingproxy.core.internal.wire.WireTestSupport.latin1;
import static dev.invertingproxy.core.internal.wire.WireTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.HeadTooLargeException;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.internal.wire.WireTestSupport.ChoppedInputStream;
import dev.invertingproxy.core.internal.wire.WireTestSupport.ExactInputStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HttpMessageReaderTest {
  private static final int LIMIT = 8192;

  private static HttpMessageReader reader(String wire) {
    return new HttpMessageReader(new ByteArrayInputStream(bytes(wire)), LIMIT);
  }

  private static RequestHead request(String wire) throws IOException {
    return reader(wire).readRequestHead();
  }

  private static ResponseHead response(String wire) throws IOException {
    return reader(wire).readResponseHead();
  }

  /** Reads one request and returns its body bytes. */
  private static String requestBodyOf(String wire) throws IOException {
    HttpMessageReader reader = reader(wire);
    return latin1(readAll(reader.requestBody(reader.readRequestHead()).stream()));
  }

  @Nested
  class RequestLine {
    @Test
    void parsesMethodTargetAndVersion() throws IOException {
      RequestHead head = request("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n");

      assertThat(head.method()).isEqualTo("GET");
      assertThat(head.target()).isEqualTo("/index.html");
      assertThat(head.version()).isEqualTo("HTTP/1.1");
      assertThat(head.headers()).isEqualTo(Headers.of("Host", "example.com"));
    }

    @Test
    void keepsTheTargetByteForByte() throws IOException {
      String target = "/a%2Fb/c?x=%20&y=1&z=%zz#frag";

      assertThat(request("GET " + target + " HTTP/1.1\r\n\r\n").target()).isEqualTo(target);
    }

    @ParameterizedTest
    @ValueSource(
        strings = {"*", "http://example.com:8080/p?q", "example.com:443", "/~!$&'()*+,;=:@"})
    void acceptsEveryTargetForm(String target) throws IOException {
      assertThat(request("OPTIONS " + target + " HTTP/1.1\r\n\r\n").target()).isEqualTo(target);
    }

    @ParameterizedTest
    @ValueSource(strings = {"PROPFIND", "M-SEARCH", "get", "X!#$%&'*+-.^_`|~9"})
    void keepsAnyTokenMethodWithItsCase(String method) throws IOException {
      assertThat(request(method + " / HTTP/1.1\r\n\r\n").method()).isEqualTo(method);
    }

    @ParameterizedTest
    @ValueSource(strings = {"HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/0.9", "HTTP/9.9"})
    void acceptsAnyDigitDotDigitVersion(String version) throws IOException {
      assertThat(request("GET / " + version + "\r\n\r\n").version()).isEqualTo(version);
    }

    @Test
    void readsHeadWithoutReadingAheadOfIt() throws IOException {
      ExactInputStream in = new ExactInputStream(bytes("GET / HTTP/1.1\r\nA: b\r\n\r\n"));

      RequestHead head = new HttpMessageReader(in, LIMIT).readRequestHead();

      assertThat(head.headers()).isEqualTo(Headers.of("A", "b"));
    }

    static Stream<Arguments> malformedRequestLines() {
      return Stream.of(
          Arguments.of("\r\n\r\n", "empty request line"),
          Arguments.of(" GET / HTTP/1.1\r\n\r\n", "invalid character SP in method in request line"),
          Arguments.of(
              "GE(T / HTTP/1.1\r\n\r\n", "invalid character '(' in method in request line"),
          Arguments.of("GET\r\n\r\n", "missing request target in request line"),
          Arguments.of("GET \r\n\r\n", "missing request target in request line"),
          Arguments.of(
              "GET  / HTTP/1.1\r\n\r\n", "invalid character SP in request target in request line"),
          Arguments.of("GET /\r\n\r\n", "missing HTTP version in request line"),
          Arguments.of("GET / \r\n\r\n", "missing HTTP version in request line"),
          Arguments.of("GET / HTTP/1.10\r\n\r\n", "invalid HTTP version in request line"),
          Arguments.of("GET / http/1.1\r\n\r\n", "invalid HTTP version in request line"),
          Arguments.of("GET / HTTP/1\r\n\r\n", "invalid HTTP version in request line"),
          Arguments.of("GET / HTTP/1.1 \r\n\r\n", "invalid HTTP version in request line"),
          Arguments.of("GET / HTTP/1.1 x\r\n\r\n", "invalid HTTP version in request line"),
          Arguments.of(
              "GET /a\u0080b HTTP/1.1\r\n\r\n",
              "invalid character 0x80 in request target in request line"),
          Arguments.of(
              "GET /a\tb HTTP/1.1\r\n\r\n",
              "invalid character HTAB in request target in request line"),
          Arguments.of(
              "GET /a\u007fb HTTP/1.1\r\n\r\n",
              "invalid character 0x7f in request target in request line"),
          Arguments.of("GET /a\u0000b HTTP/1.1\r\n\r\n", "NUL byte in request line"),
          Arguments.of("GET /a\rb HTTP/1.1\r\n\r\n", "bare CR in request line"),
          Arguments.of("GET / HTTP/1.1\r\r\n\r\n", "bare CR in request line"),
          Arguments.of("GET / HTTP/1.1\n\r\n", "bare LF in request line"),
          Arguments.of("GET / HTTP/1.1\r\n\n", "bare LF in header line 1"),
          Arguments.of("", "empty message: end of stream before the request line"),
          Arguments.of("GET / HT", "unexpected end of stream in the request head in request line"),
          Arguments.of(
              "GET / HTTP/1.1\r\nA: b\r\n",
              "unexpected end of stream in the request head at header line 2"),
          Arguments.of(
              "GET / HTTP/1.1\r\nA: b",
              "unexpected end of stream in the request head at header line 1"));
    }

    @ParameterizedTest
    @MethodSource("malformedRequestLines")
    void refusesMalformedRequestHead(String wire, String message) {
      assertThatThrownBy(() -> request(wire))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
    }
  }

  @Nested
  class StatusLine {
    @Test
    void parsesVersionStatusAndReason() throws IOException {
      ResponseHead head = response("HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n");

      assertThat(head)
          .isEqualTo(new ResponseHead("HTTP/1.1", 404, "Not Found", Headers.of("A", "b")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"HTTP/1.1 200 \r\n\r\n", "HTTP/1.1 200\r\n\r\n"})
    void acceptsAnEmptyOrMissingReason(String wire) throws IOException {
      ResponseHead head = response(wire);

      assertThat(head.status()).isEqualTo(200);
      assertThat(head.reason()).isEmpty();
    }

    @Test
    void acceptsTheVersionGoAgentsSend() throws IOException {
      assertThat(response("HTTP/2.0 200 OK\r\n\r\n").version()).isEqualTo("HTTP/2.0");
    }

    @Test
    void keepsTheReasonWithSpacesTabsAndObsText() throws IOException {
      assertThat(response("HTTP/1.1 200  \u00c7a\tva  \u00ff\r\n\r\n").reason())
          .isEqualTo(" \u00c7a\tva  \u00ff");
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 101, 199, 204, 304, 500, 599, 999})
    void acceptsEveryThreeDigitStatusFrom100(int status) throws IOException {
      assertThat(response("HTTP/1.1 " + status + " X\r\n\r\n").status()).isEqualTo(status);
    }

    static Stream<Arguments> malformedStatusLines() {
      return Stream.of(
          Arguments.of("HTTP/1.1 20 OK\r\n\r\n", "status code is not 3 digits in status line"),
          Arguments.of("HTTP/1.1  200 OK\r\n\r\n", "status code is not 3 digits in status line"),
          Arguments.of("HTTP/1.1 2x0 OK\r\n\r\n", "status code is not 3 digits in status line"),
          Arguments.of(
              "HTTP/1.1 2000 OK\r\n\r\n", "invalid character '0' in status code in status line"),
          Arguments.of(
              "HTTP/1.1 200\tOK\r\n\r\n", "invalid character HTAB in status code in status line"),
          Arguments.of("HTTP/1.1 099 Low\r\n\r\n", "status code 99 below 100 in status line"),
          Arguments.of("HTTP/1.1\r\n\r\n", "missing 3-digit status code in status line"),
          Arguments.of("HTTP/1.1 20\r\n\r\n", "missing 3-digit status code in status line"),
          Arguments.of("HTTP 200 OK\r\n\r\n", "invalid HTTP version in status line"),
          Arguments.of("HTTP/1.1.1 200 OK\r\n\r\n", "invalid HTTP version in status line"),
          Arguments.of(" HTTP/1.1 200 OK\r\n\r\n", "missing HTTP version in status line"),
          Arguments.of("\r\n\r\n", "missing HTTP version in status line"),
          Arguments.of("HTTP/1.1 200 O\u0000K\r\n\r\n", "NUL byte in status line"),
          Arguments.of("HTTP/1.1 200 O\rK\r\n\r\n", "bare CR in status line"),
          Arguments.of("HTTP/1.1 200 OK\n\r\n", "bare LF in status line"),
          Arguments.of(
              "HTTP/1.1 200 O\u0001K\r\n\r\n",
              "invalid character 0x01 in reason phrase in status line"),
          Arguments.of(
              "HTTP/1.1 200 O\u007fK\r\n\r\n",
              "invalid character 0x7f in reason phrase in status line"),
          Arguments.of("", "empty message: end of stream before the status line"),
          Arguments.of(
              "HTTP/1.1 200 OK\r\nA: b\r\n",
              "unexpected end of stream in the response head at header line 2"));
    }

    @ParameterizedTest
    @MethodSource("malformedStatusLines")
    void refusesMalformedResponseHead(String wire, String message) {
      assertThatThrownBy(() -> response(wire))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
    }
  }

  @Nested
  class HeaderFields {
    @Test
    void keepsOrderCaseAndRepetitions() throws IOException {
      RequestHead head =
          request(
              "GET / HTTP/1.1\r\n"
                  + "Host: a\r\n"
                  + "x-lower: 1\r\n"
                  + "Set-Cookie: a=1\r\n"
                  + "X-UPPER: 2\r\n"
                  + "set-cookie: b=2\r\n"
                  + "\r\n");

      assertThat(head.headers().fields())
          .containsExactly(
              new Header("Host", "a"),
              new Header("x-lower", "1"),
              new Header("Set-Cookie", "a=1"),
              new Header("X-UPPER", "2"),
              new Header("set-cookie", "b=2"));
      assertThat(head.headers().all("SET-COOKIE")).containsExactly("a=1", "b=2");
    }

    @Test
    void trimsOptionalWhitespaceAroundTheValueOnly() throws IOException {
      RequestHead head =
          request(
              "GET / HTTP/1.1\r\nA:no-space\r\nB: \t one  two\tthree \t \r\nC:\t\r\nD:\r\n\r\n");

      assertThat(head.headers().fields())
          .containsExactly(
              new Header("A", "no-space"),
              new Header("B", "one  two\tthree"),
              new Header("C", ""),
              new Header("D", ""));
    }

    @Test
    void decodesObsTextAsIso88591() throws IOException {
      RequestHead head = request("GET / HTTP/1.1\r\nX-Name: Jos\u00e9 \u0080\u00ff\r\n\r\n");

      assertThat(head.headers().first("x-name")).contains("Jos\u00e9 \u0080\u00ff");
    }

    @Test
    void acceptsEveryTokenCharacterInNames() throws IOException {
      String name = "!#$%&'*+-.^_`|~0123456789abcxyzABCXYZ";

      assertThat(request("GET / HTTP/1.1\r\n" + name + ": v\r\n\r\n").headers().fields())
          .containsExactly(new Header(name, "v"));
    }

    static Stream<Arguments> malformedFieldLines() {
      return Stream.of(
          Arguments.of("Host : x", "whitespace before colon in header line 2"),
          Arguments.of("Host\t: x", "whitespace before colon in header line 2"),
          Arguments.of("Foo Bar: x", "whitespace in field name in header line 2"),
          Arguments.of(" folded", "obs-fold (line starting with whitespace) in header line 2"),
          Arguments.of("\tfolded", "obs-fold (line starting with whitespace) in header line 2"),
          Arguments.of("NoColon", "missing colon in header line 2"),
          Arguments.of(": x", "empty field name in header line 2"),
          Arguments.of("X(y): z", "invalid character '(' in field name in header line 2"),
          Arguments.of("X\u00e9: z", "invalid character 0xe9 in field name in header line 2"),
          Arguments.of("X\u0000: z", "NUL byte in header line 2"),
          Arguments.of("X\r: z", "bare CR in header line 2"),
          Arguments.of("X: a\u0000b", "NUL byte in header line 2"),
          Arguments.of("X: a\rb", "bare CR in header line 2"),
          Arguments.of("X: ab\r", "bare CR in header line 2"),
          Arguments.of("X: a\nY: b", "bare LF in header line 2"),
          Arguments.of("X: a\u0001b", "invalid character 0x01 in value in header line 2"),
          Arguments.of("X: a\u001bb", "invalid character 0x1b in value in header line 2"),
          Arguments.of("X: a\u007fb", "invalid character 0x7f in value in header line 2"));
    }

    @ParameterizedTest
    @MethodSource("malformedFieldLines")
    void refusesMalformedFieldLine(String line, String message) {
      String wire = "GET / HTTP/1.1\r\nA: 1\r\n" + line + "\r\nZ: 9\r\n\r\n";

      assertThatThrownBy(() -> request(wire))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
    }

    @ParameterizedTest
    @MethodSource("malformedFieldLines")
    void refusesTheSameLinesInResponses(String line, String message) {
      String wire = "HTTP/1.1 200 OK\r\nA: 1\r\n" + line + "\r\nZ: 9\r\n\r\n";

      assertThatThrownBy(() -> response(wire))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
    }
  }

  @Nested
  class HeadLimit {
    private final String head = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

    @Test
    void acceptsAHeadOfExactlyTheLimit() throws IOException {
      HttpMessageReader reader =
          new HttpMessageReader(new ByteArrayInputStream(bytes(head)), head.length());

      assertThat(reader.readRequestHead().target()).isEqualTo("/");
    }

    @Test
    void refusesAHeadOneByteOverTheLimitWith431() {
      HttpMessageReader reader =
          new HttpMessageReader(new ByteArrayInputStream(bytes(head)), head.length() - 1);

      assertThatThrownBy(reader::readRequestHead)
          .isExactlyInstanceOf(HeadTooLargeException.class)
          .hasMessage("request head larger than the limit of " + (head.length() - 1) + " bytes")
          .extracting(e -> ((LimitExceededException) e).status())
          .isEqualTo(431);
    }

    @Test
    void refusesAResponseHeadOverTheLimitWith431() {
      String wire = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
      HttpMessageReader reader = new HttpMessageReader(new ByteArrayInputStream(bytes(wire)), 20);

      assertThatThrownBy(reader::readResponseHead)
          .isInstanceOfSatisfying(
              LimitExceededException.class, e -> assertThat(e.status()).isEqualTo(431))
          .hasMessage("response head larger than the limit of 20 bytes");
    }

    @Test
    void failsAnEndlessLineAsSoonAsItIsTooLong() {
      // Never ends: a reader that waited for the LF would run out of memory or time.
      InputStream endless =
          new InputStream() {
            long served;

            @Override
            public int read() {
              served++;
              if (served > 1_000_000) {
                throw new AssertionError("kept reading past the limit");
              }
              return served <= 4 ? "GET ".charAt((int) served - 1) : 'a';
            }
          };
      HttpMessageReader reader = new HttpMessageReader(endless, 64 * 1024);

      assertThatThrownBy(reader::readRequestHead)
          .isInstanceOfSatisfying(
              LimitExceededException.class, e -> assertThat(e.status()).isEqualTo(431));
    }

    @Test
    void countsEveryHeaderLineTowardsTheLimit() {
      StringBuilder wire = new StringBuilder("GET / HTTP/1.1\r\n");
      for (int i = 0; i < 1000; i++) {
        wire.append("X-Header-").append(i).append(": value\r\n");
      }
      wire.append("\r\n");
      HttpMessageReader reader =
          new HttpMessageReader(new ByteArrayInputStream(bytes(wire.toString())), 16 * 1024);

      assertThatThrownBy(reader::readRequestHead)
          .isInstanceOfSatisfying(
              LimitExceededException.class, e -> assertThat(e.status()).isEqualTo(431));
    }

    @Test
    void parsesLinesThatSpanBufferRefills() throws IOException {
      String longValue = "v".repeat(HttpMessageReader.BUFFER_SIZE * 2 + 17);
      StringBuilder wire =
          new StringBuilder("GET /").append("p".repeat(5000)).append(" HTTP/1.1\r\n");
      for (int i = 0; i < 300; i++) {
        wire.append("X-").append(i).append(": ").append(i).append("\r\n");
      }
      wire.append("Long: ").append(longValue).append("\r\n\r\n");
      byte[] data = bytes(wire.toString());
      HttpMessageReader reader =
          new HttpMessageReader(new ChoppedInputStream(data, 700, 1), 64 * 1024);

      RequestHead head = reader.readRequestHead();

      assertThat(head.target()).hasSize(5001);
      assertThat(head.headers().size()).isEqualTo(301);
      assertThat(head.headers().first("x-299")).contains("299");
      assertThat(head.headers().first("long")).contains(longValue);
    }
  }

  @Nested
  class RequestFraming {
    @Test
    void aRequestWithoutFramingHeadersHasAnEmptyBody() throws IOException {
      HttpMessageReader reader = reader("GET / HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThat(body.contentLength()).isZero();
      assertThat(body.stream().read()).isEqualTo(-1);
      assertThat(reader.readRequestHead().target()).isEqualTo("/next");
    }

    @Test
    void readsExactlyContentLengthBytesThenTheNextRequest() throws IOException {
      HttpMessageReader reader =
          reader(
              "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                  + "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");

      MessageBody first = reader.requestBody(reader.readRequestHead());
      assertThat(first.contentLength()).isEqualTo(5);
      assertThat(latin1(readAll(first.stream()))).isEqualTo("hello");

      RequestHead second = reader.readRequestHead();
      assertThat(second.target()).isEqualTo("/b");
      assertThat(latin1(readAll(reader.requestBody(second).stream()))).isEqualTo("abc");
    }

    @ParameterizedTest
    @ValueSource(strings = {"5", "005", "5, 5", "5,5 ,\t5"})
    void acceptsEqualContentLengthValues(String value) throws IOException {
      HttpMessageReader reader =
          reader("POST / HTTP/1.1\r\nContent-Length: " + value + "\r\n\r\nhello");
      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThat(body.contentLength()).isEqualTo(5);
      assertThat(latin1(readAll(body.stream()))).isEqualTo("hello");
    }

    @Test
    void acceptsRepeatedEqualContentLengthFields() throws IOException {
      assertThat(
              requestBodyOf(
                  "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello"))
          .isEqualTo("hello");
    }

    @Test
    void aZeroContentLengthIsAnEmptyBody() throws IOException {
      HttpMessageReader reader = reader("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThat(body.contentLength()).isZero();
      assertThat(readAll(body.stream())).isEmpty();
    }

    static Stream<Arguments> badFraming() {
      return Stream.of(
          Arguments.of(
              "Content-Length: 5\r\ncontent-length: 6",
              "conflicting Content-Length values 5 and 6"),
          Arguments.of("Content-Length: 5, 6", "conflicting Content-Length values 5 and 6"),
          Arguments.of("Content-Length: -1", "only decimal digits are allowed"),
          Arguments.of("Content-Length: +5", "only decimal digits are allowed"),
          Arguments.of("Content-Length: 0x5", "only decimal digits are allowed"),
          Arguments.of("Content-Length: 5 5", "only decimal digits are allowed"),
          Arguments.of("Content-Length: 1e3", "only decimal digits are allowed"),
          Arguments.of("Content-Length: 0.5", "only decimal digits are allowed"),
          Arguments.of("Content-Length: 5,,5", "empty value"),
          Arguments.of("Content-Length:", "empty value"),
          Arguments.of("Content-Length: ,", "empty value"),
          Arguments.of("Content-Length: 99999999999999999999", "too large"),
          Arguments.of("Content-Length: 9223372036854775808", "too large"),
          Arguments.of(
              "Transfer-Encoding: chunked\r\nContent-Length: 5",
              "both Transfer-Encoding and Content-Length present"),
          Arguments.of(
              "Content-Length: 5\r\nTransfer-Encoding: chunked",
              "both Transfer-Encoding and Content-Length present"),
          Arguments.of(
              "Transfer-Encoding: gzip, chunked",
              "unsupported Transfer-Encoding \"gzip, chunked\": only chunked is accepted"),
          Arguments.of("Transfer-Encoding: chunked, gzip", "unsupported Transfer-Encoding"),
          Arguments.of("Transfer-Encoding: gzip", "unsupported Transfer-Encoding"),
          Arguments.of("Transfer-Encoding: identity", "unsupported Transfer-Encoding"),
          Arguments.of("Transfer-Encoding: chunked;q=1", "unsupported Transfer-Encoding"),
          Arguments.of("Transfer-Encoding: xchunked", "unsupported Transfer-Encoding"),
          Arguments.of("Transfer-Encoding: chunked, chunked", "chunked more than once"),
          Arguments.of(
              "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "chunked more than once"),
          Arguments.of(
              "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
              "unsupported Transfer-Encoding"),
          Arguments.of("Transfer-Encoding:", "Transfer-Encoding present but names no coding"),
          Arguments.of("Transfer-Encoding: ,", "Transfer-Encoding present but names no coding"));
    }

    @ParameterizedTest
    @MethodSource("badFraming")
    void refusesBadFraming(String fields, String message) throws IOException {
      HttpMessageReader reader = reader("POST / HTTP/1.1\r\n" + fields + "\r\n\r\nhello");
      RequestHead head = reader.readRequestHead();

      assertThatThrownBy(() -> reader.requestBody(head))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
      // The body's extent is unknown, so nothing after it may be parsed as a message.
      assertThatThrownBy(reader::readRequestHead).isInstanceOf(IllegalStateException.class);
    }

    @ParameterizedTest
    @MethodSource("badFraming")
    void refusesBadFramingInResponses(String fields, String message) throws IOException {
      HttpMessageReader reader = reader("HTTP/1.1 200 OK\r\n" + fields + "\r\n\r\nhello");
      ResponseHead head = reader.readResponseHead();

      assertThatThrownBy(() -> reader.responseBody(head, "GET"))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
    }

    @ParameterizedTest
    @ValueSource(
        strings = {"chunked", "Chunked", "CHUNKED", ", chunked", "chunked ,", " ,chunked,"})
    void acceptsChunkedAsTheOnlyCoding(String value) throws IOException {
      assertThat(
              requestBodyOf(
                  "POST / HTTP/1.1\r\nTransfer-Encoding: "
                      + value
                      + "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
          .isEqualTo("hello");
    }
  }

  @Nested
  class Chunked {
    private MessageBody chunkedBody(String chunks) throws IOException {
      HttpMessageReader reader =
          reader("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
      return reader.requestBody(reader.readRequestHead());
    }

    @Test
    void decodesChunks() throws IOException {
      MessageBody body = chunkedBody("5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n");

      assertThat(body.contentLength()).isEqualTo(-1);
      assertThat(latin1(readAll(body.stream()))).isEqualTo("hello 0123456789");
      assertThat(body.trailers()).isEqualTo(Headers.empty());
    }

    @Test
    void anEmptyChunkedBody() throws IOException {
      MessageBody body = chunkedBody("0\r\n\r\n");

      assertThat(body.stream().read()).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(
        strings = {
          "5;name=value",
          "5;name",
          "5 ;a=b",
          "5\t; a = \"quoted; \\\"string\"",
          "5;a=b;c=d;e",
          "0005",
          "000000000000005",
          "5;\u00e9"
        })
    void acceptsChunkSizesWithExtensionsAndLeadingZeros(String sizeLine) throws IOException {
      MessageBody body = chunkedBody(sizeLine + "\r\nhello\r\n0;last\r\n\r\n");

      assertThat(latin1(readAll(body.stream()))).isEqualTo("hello");
    }

    @Test
    void acceptsHexDigitsOfBothCases() throws IOException {
      String data = "x".repeat(0xAb);

      assertThat(latin1(readAll(chunkedBody("aB\r\n" + data + "\r\n0\r\n\r\n").stream())))
          .isEqualTo(data);
    }

    @Test
    void keepsTrailersAvailableAfterTheEnd() throws IOException {
      MessageBody body = chunkedBody("3\r\nabc\r\n0\r\nX-Checksum: 123\r\nx-more:  a b \r\n\r\n");

      assertThat(body.trailers()).isEqualTo(Headers.empty());
      byte[] data = readAll(body.stream());

      assertThat(latin1(data)).isEqualTo("abc");
      assertThat(body.trailers()).isEqualTo(Headers.of("X-Checksum", "123", "x-more", "a b"));
    }

    @Test
    void standsRightAfterTheMessageAtTheEnd() throws IOException {
      HttpMessageReader reader =
          reader(
              "POST /1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\n"
                  + "GET /2 HTTP/1.1\r\n\r\n");
      MessageBody body = reader.requestBody(reader.readRequestHead());
      assertThat(latin1(readAll(body.stream()))).isEqualTo("ab");

      assertThat(reader.readRequestHead().target()).isEqualTo("/2");
    }

    static Stream<Arguments> malformedChunks() {
      return Stream.of(
          Arguments.of("\r\nhello\r\n0\r\n\r\n", "empty chunk size"),
          Arguments.of(";ext\r\nhello\r\n0\r\n\r\n", "invalid character ';' in chunk size"),
          Arguments.of("g\r\nhello\r\n0\r\n\r\n", "invalid character 'g' in chunk size"),
          Arguments.of("-5\r\nhello\r\n0\r\n\r\n", "invalid character '-' in chunk size"),
          Arguments.of("0x5\r\nhello\r\n0\r\n\r\n", "invalid character 'x' in chunk size"),
          Arguments.of(" 5\r\nhello\r\n0\r\n\r\n", "invalid character SP in chunk size"),
          Arguments.of(
              "5 \r\nhello\r\n0\r\n\r\n", "whitespace after chunk size without an extension"),
          Arguments.of("5 5\r\nhello\r\n0\r\n\r\n", "invalid character '5' in chunk size"),
          Arguments.of("00000000000000005\r\nhello\r\n0\r\n\r\n", "more than 16 hex digits"),
          Arguments.of("10000000000000000\r\nhello\r\n0\r\n\r\n", "more than 16 hex digits"),
          Arguments.of("ffffffffffffffff\r\nhello\r\n0\r\n\r\n", "chunk size too large"),
          Arguments.of("8000000000000000\r\nhello\r\n0\r\n\r\n", "chunk size too large"),
          Arguments.of("5\nhello\r\n0\r\n\r\n", "bare LF in chunk size line"),
          Arguments.of("5\r\r\nhello\r\n0\r\n\r\n", "bare CR in chunk size line"),
          Arguments.of("5;a\u0000b\r\nhello\r\n0\r\n\r\n", "NUL byte in chunk size line"),
          Arguments.of(
              "5;a\u0001b\r\nhello\r\n0\r\n\r\n",
              "invalid character 0x01 in chunk extension in chunk size line"),
          Arguments.of("5;a\rb\r\nhello\r\n0\r\n\r\n", "bare CR in chunk size line"),
          Arguments.of("5\r\nhelloX\r\n0\r\n\r\n", "chunk data not followed by CRLF"),
          Arguments.of("5\r\nhello\n0\r\n\r\n", "chunk data not followed by CRLF"),
          Arguments.of("5\r\nhello\r\r0\r\n\r\n", "chunk data not followed by CRLF"),
          Arguments.of("4\r\nhello\r\n0\r\n\r\n", "chunk data not followed by CRLF"),
          Arguments.of(
              "5;" + "x".repeat(5000) + "\r\nhello\r\n0\r\n\r\n",
              "chunk size line longer than 4096 bytes"),
          Arguments.of("0\r\nBad : x\r\n\r\n", "whitespace before colon in trailer line 1"),
          Arguments.of(
              "0\r\nA: 1\r\n folded\r\n\r\n",
              "obs-fold (line starting with whitespace) in trailer line 2"),
          Arguments.of("0\r\nA: 1\nB: 2\r\n\r\n", "bare LF in trailer line 1"),
          Arguments.of("0\r\nA: \u0000\r\n\r\n", "NUL byte in trailer line 1"));
    }

    @ParameterizedTest
    @MethodSource("malformedChunks")
    void refusesMalformedChunks(String chunks, String message) throws IOException {
      MessageBody body = chunkedBody(chunks);

      assertThatThrownBy(() -> readAll(body.stream()))
          .isExactlyInstanceOf(MalformedMessageException.class)
          .hasMessageContaining(message);
    }

    @Test
    void boundsTheTrailerSectionBySameLimitWith431() throws IOException {
      String trailers = "0\r\nX-A: " + "a".repeat(100) + "\r\n\r\n";
      String wire = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + trailers;
      // The head alone is 47 bytes, the trailer section 111: a limit of 100 bounds each separately.
      HttpMessageReader reader = new HttpMessageReader(new ByteArrayInputStream(bytes(wire)), 100);
      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThatThrownBy(() -> readAll(body.stream()))
          .isInstanceOfSatisfying(
              LimitExceededException.class, e -> assertThat(e.status()).isEqualTo(431))
          .hasMessage("trailer section larger than the limit of 100 bytes");
    }

    @Test
    void acceptsATrailerSectionOfExactlyTheLimit() throws IOException {
      String trailerSection = "X-A: 1\r\n\r\n"; // 10 bytes
      String wire = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailerSection;
      HttpMessageReader reader = new HttpMessageReader(new ByteArrayInputStream(bytes(wire)), 47);
      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThat(readAll(body.stream())).isEmpty();
      assertThat(body.trailers()).isEqualTo(Headers.of("X-A", "1"));
    }
  }

  @Nested
  class Truncation {
    @Test
    void aShortContentLengthBodyIsAnEofExceptionNotAnEnd() throws IOException {
      HttpMessageReader reader = reader("POST / HTTP/1.1\r\nContent-Length: 1234\r\n\r\nhello");
      InputStream body = reader.requestBody(reader.readRequestHead()).stream();

      assertThat(body.read(new byte[100])).isEqualTo(5);
      assertThatThrownBy(() -> body.read(new byte[100]))
          .isExactlyInstanceOf(EOFException.class)
          .hasMessage("unexpected end of stream: 1229 more body bytes expected");
      assertThatThrownBy(body::read).isExactlyInstanceOf(EOFException.class);
    }

    @Test
    void aTruncatedBodyFailsTheNextHeadToo() throws IOException {
      HttpMessageReader reader = reader("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello");
      InputStream body = reader.requestBody(reader.readRequestHead()).stream();
      assertThatThrownBy(() -> readAll(body)).isInstanceOf(EOFException.class);

      assertThatThrownBy(reader::readRequestHead)
          .isExactlyInstanceOf(IllegalStateException.class)
          .hasMessageContaining("has not been read to its end");
    }

    static Stream<Arguments> truncatedChunks() {
      return Stream.of(
          Arguments.of("", "unexpected end of stream in chunk size line"),
          Arguments.of("5", "unexpected end of stream in chunk size line"),
          Arguments.of("5;ext\r", "unexpected end of stream in chunk size line"),
          Arguments.of("5\r\nhel", "unexpected end of stream: 2 more bytes expected in chunk"),
          Arguments.of("5\r\nhello", "unexpected end of stream: CRLF expected after chunk data"),
          Arguments.of("5\r\nhello\r", "unexpected end of stream: CRLF expected after chunk data"),
          Arguments.of("5\r\nhello\r\n", "unexpected end of stream in chunk size line"),
          Arguments.of("5\r\nhello\r\n0\r\n", "unexpected end of stream in trailer section"),
          Arguments.of(
              "5\r\nhello\r\n0\r\nA: 1\r\n", "unexpected end of stream in trailer section"),
          Arguments.of("5\r\nhello\r\n0\r\nA: 1", "unexpected end of stream in trailer section"),
          Arguments.of("5\r\nhello\r\n0\r\n\r", "unexpected end of stream in trailer section"));
    }

    @ParameterizedTest
    @MethodSource("truncatedChunks")
    void aTruncatedChunkedBodyIsAnEofException(String chunks, String message) throws IOException {
      HttpMessageReader reader =
          reader("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThatThrownBy(() -> readAll(body.stream()))
          .isExactlyInstanceOf(EOFException.class)
          .hasMessage(message);
    }
  }

  @Nested
  class ResponseFraming {
    @Test
    void aResponseToHeadHasNoBodyWhateverItsContentLength() throws IOException {
      HttpMessageReader reader =
          reader("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
      ResponseHead head = reader.readResponseHead();
      MessageBody body = reader.responseBody(head, "HEAD");

      assertThat(body.contentLength()).isZero();
      assertThat(body.stream().read()).isEqualTo(-1);
      assertThat(head.headers()).isEqualTo(Headers.of("Content-Length", "1234"));
      assertThat(reader.readResponseHead().status()).isEqualTo(204);
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 101, 103, 199, 204, 304})
    void statusesWithoutBody(int status) throws IOException {
      HttpMessageReader reader =
          reader(
              "HTTP/1.1 "
                  + status
                  + " X\r\nContent-Length: 10\r\nTransfer-Encoding: gzip\r\n\r\n"
                  + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      ResponseHead head = reader.readResponseHead();
      MessageBody body = reader.responseBody(head, "GET");

      assertThat(body.contentLength()).isZero();
      assertThat(readAll(body.stream())).isEmpty();
      assertThat(head.headers().size()).isEqualTo(2);

      ResponseHead next = reader.readResponseHead();
      assertThat(latin1(readAll(reader.responseBody(next, "GET").stream()))).isEqualTo("ok");
    }

    @Test
    void interimResponsesPrecedeTheFinalOne() throws IOException {
      HttpMessageReader reader =
          reader(
              "HTTP/1.1 100 Continue\r\n\r\n"
                  + "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                  + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
      int status;
      MessageBody body;
      do {
        ResponseHead head = reader.readResponseHead();
        status = head.status();
        body = reader.responseBody(head, "POST");
      } while (status < 200);

      assertThat(status).isEqualTo(201);
      assertThat(latin1(readAll(body.stream()))).isEqualTo("ok");
    }

    @Test
    void aResponseWithoutFramingRunsToTheEndOfTheStream() throws IOException {
      HttpMessageReader reader = reader("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of\r\nthis");
      MessageBody body = reader.responseBody(reader.readResponseHead(), "GET");

      assertThat(body.contentLength()).isEqualTo(-1);
      assertThat(latin1(readAll(body.stream()))).isEqualTo("all of\r\nthis");
      assertThat(body.stream().read()).isEqualTo(-1);
      assertThat(body.trailers()).isEqualTo(Headers.empty());
    }

    @Test
    void anEmptyResponseToEndOfStream() throws IOException {
      HttpMessageReader reader = reader("HTTP/1.1 200 OK\r\n\r\n");
      MessageBody body = reader.responseBody(reader.readResponseHead(), "GET");

      assertThat(body.contentLength()).isEqualTo(-1);
      assertThat(readAll(body.stream())).isEmpty();
    }

    @Test
    void aChunkedResponse() throws IOException {
      HttpMessageReader reader =
          reader(
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + "4\r\ndata\r\n0\r\nServer-Timing: db;dur=53\r\n\r\n");
      MessageBody body = reader.responseBody(reader.readResponseHead(), "GET");

      assertThat(latin1(readAll(body.stream()))).isEqualTo("data");
      assertThat(body.trailers()).isEqualTo(Headers.of("Server-Timing", "db;dur=53"));
    }

    @Test
    void aContentLengthResponse() throws IOException {
      HttpMessageReader reader = reader("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndataEXTRA");
      MessageBody body = reader.responseBody(reader.readResponseHead(), "GET");

      assertThat(body.contentLength()).isEqualTo(4);
      assertThat(latin1(readAll(body.stream()))).isEqualTo("data");
    }

    @Test
    void theMethodIsCaseSensitive() throws IOException {
      HttpMessageReader reader = reader("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      MessageBody body = reader.responseBody(reader.readResponseHead(), "head");

      assertThat(body.contentLength()).isEqualTo(2);
    }
  }

  @Nested
  class BodyStreams {
    @Test
    void readAfterEndReturnsMinusOneRepeatedly() throws IOException {
      HttpMessageReader reader = reader("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nok");
      InputStream body = reader.requestBody(reader.readRequestHead()).stream();
      readAll(body);

      assertThat(body.read()).isEqualTo(-1);
      assertThat(body.read(new byte[10])).isEqualTo(-1);
      assertThat(body.read(new byte[10], 0, 10)).isEqualTo(-1);
      assertThat(body.available()).isZero();
    }

    @Test
    void singleByteReads() throws IOException {
      HttpMessageReader reader =
          reader(
              "POST / HTTP/1.1\r\n"
                  + "Transfer-Encoding: chunked\r\n\r\n"
                  + "2\r\n"
                  + "\u00ff\u0000\r\n"
                  + "0\r\n\r\n");
      InputStream body = reader.requestBody(reader.readRequestHead()).stream();

      assertThat(body.read()).isEqualTo(0xFF);
      assertThat(body.read()).isEqualTo(0);
      assertThat(body.read()).isEqualTo(-1);
    }

    @Test
    void closeDoesNotCloseTheUnderlyingStream() throws IOException {
      ExactInputStream in =
          new ExactInputStream(bytes("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
      HttpMessageReader reader = new HttpMessageReader(in, LIMIT);
      MessageBody body = reader.requestBody(reader.readRequestHead());

      body.close();

      assertThat(in.closed).isFalse();
      assertThatThrownBy(() -> body.stream().read()).isInstanceOf(IOException.class);
      assertThatThrownBy(reader::readRequestHead)
          .isExactlyInstanceOf(IllegalStateException.class)
          .hasMessageContaining("closed before its end");
    }

    @Test
    void closingAFinishedBodyAllowsTheNextMessage() throws IOException {
      HttpMessageReader reader =
          reader("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /2 HTTP/1.1\r\n\r\n");
      MessageBody body = reader.requestBody(reader.readRequestHead());
      readAll(body.stream());
      body.close();

      assertThat(reader.readRequestHead().target()).isEqualTo("/2");
    }

    @Test
    void theNextHeadNeedsTheBodyRequestedAndReadFirst() throws IOException {
      HttpMessageReader reader =
          reader("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /2 HTTP/1.1\r\n\r\n");
      RequestHead head = reader.readRequestHead();

      assertThatThrownBy(reader::readRequestHead)
          .isExactlyInstanceOf(IllegalStateException.class)
          .hasMessageContaining("body was not requested");
      InputStream body = reader.requestBody(head).stream();
      assertThat(body.read()).isEqualTo('o');
      assertThatThrownBy(reader::readRequestHead)
          .isExactlyInstanceOf(IllegalStateException.class)
          .hasMessageContaining("has not been read to its end");
      assertThatThrownBy(() -> reader.requestBody(head))
          .isExactlyInstanceOf(IllegalStateException.class);
    }

    @Test
    void aMalformedHeadStopsTheReader() {
      HttpMessageReader reader = reader("GET / HTTP/1.1\r\nBad : x\r\n\r\nGET / HTTP/1.1\r\n\r\n");

      assertThatThrownBy(reader::readRequestHead).isInstanceOf(MalformedMessageException.class);
      assertThatThrownBy(reader::readRequestHead).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void doesNotReadPastTheMessage() throws IOException {
      ExactInputStream in =
          new ExactInputStream(
              bytes(
                  "POST / HTTP/1.1\r\n"
                      + "Transfer-Encoding: chunked\r\n\r\n"
                      + "3\r\n"
                      + "abc\r\n"
                      + "0\r\n"
                      + "T: 1\r\n\r\n"));
      HttpMessageReader reader = new HttpMessageReader(in, LIMIT);
      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThat(latin1(readAll(body.stream()))).isEqualTo("abc");
      assertThat(body.stream().read()).isEqualTo(-1);
      assertThat(body.trailers()).isEqualTo(Headers.of("T", "1"));
    }

    @Test
    void availableCountsBufferedBytesOfTheCurrentLength() throws IOException {
      HttpMessageReader reader =
          reader("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n");
      InputStream body = reader.requestBody(reader.readRequestHead()).stream();

      assertThat(body.available()).isEqualTo(5);
      assertThat(body.read(new byte[2])).isEqualTo(2);
      assertThat(body.available()).isEqualTo(3);
      readAll(body);
      assertThat(body.available()).isZero();
    }

    @Test
    void availableCountsBufferedBytesOfTheCurrentChunk() throws IOException {
      HttpMessageReader reader =
          reader(
              "POST / HTTP/1.1\r\n"
                  + "Transfer-Encoding: chunked\r\n\r\n"
                  + "5\r\n"
                  + "hello\r\n"
                  + "3\r\n"
                  + "abc\r\n"
                  + "0\r\n\r\n");
      InputStream body = reader.requestBody(reader.readRequestHead()).stream();

      assertThat(body.available()).isZero(); // the size line is not parsed yet
      assertThat(body.read()).isEqualTo('h');
      assertThat(body.available()).isEqualTo(4);
      assertThat(body.read(new byte[10])).isEqualTo(4); // one chunk per read at most
      assertThat(body.available()).isZero();
      assertThat(body.read(new byte[10])).isEqualTo(3);
      assertThat(body.read(new byte[10])).isEqualTo(-1);
    }

    @Test
    void availableOfABodyToEndOfStream() throws IOException {
      HttpMessageReader reader = reader("HTTP/1.1 200 OK\r\n\r\nabc");
      InputStream body = reader.responseBody(reader.readResponseHead(), "GET").stream();

      assertThat(body.available()).isEqualTo(3);
    }

    @Test
    void streamsLargeBodiesThroughSmallReads() throws IOException {
      byte[] data = WireTestSupport.randomBytes(300_000, 7);
      byte[] head = bytes("POST / HTTP/1.1\r\nContent-Length: " + data.length + "\r\n\r\n");
      byte[] wire = new byte[head.length + data.length];
      System.arraycopy(head, 0, wire, 0, head.length);
      System.arraycopy(data, 0, wire, head.length, data.length);
      HttpMessageReader reader =
          new HttpMessageReader(new ChoppedInputStream(wire, 20_000, 3), LIMIT);

      MessageBody body = reader.requestBody(reader.readRequestHead());

      assertThat(readAll(body.stream())).isEqualTo(data);
    }

    @Test
    void rejectsANonPositiveLimit() {
      assertThatThrownBy(() -> new HttpMessageReader(InputStream.nullInputStream(), 0))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
