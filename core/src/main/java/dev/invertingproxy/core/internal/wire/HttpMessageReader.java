package dev.invertingproxy.core.internal.wire;

import static dev.invertingproxy.core.internal.wire.HttpSyntax.CR;
import static dev.invertingproxy.core.internal.wire.HttpSyntax.LF;
import static dev.invertingproxy.core.internal.wire.HttpSyntax.SP;
import static dev.invertingproxy.core.internal.wire.HttpSyntax.describeByte;
import static java.nio.charset.StandardCharsets.ISO_8859_1;

import dev.invertingproxy.HeadTooLargeException;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Reads HTTP/1.1 messages (RFC 9112) from a byte stream, one head and one streaming body at a time.
 *
 * <p>The reader is strict where leniency enables request smuggling or header injection, and
 * faithful everywhere else: header order, name case and repetitions are kept, the request target is
 * kept byte for byte (never decoded), and field values are decoded as ISO-8859-1 so that every byte
 * survives. Only CRLF ends a line; NUL, bare CR, bare LF, other control characters, obs-fold and
 * whitespace before a colon are refused with a {@link MalformedMessageException} that says what was
 * wrong and where. A head larger than {@code maxHeadBytes} (and, separately, a trailer section
 * larger than that) is refused with a {@link HeadTooLargeException} (431).
 *
 * <p>Bodies are never buffered whole: {@link #requestBody} and {@link #responseBody} return a
 * {@link MessageBody} whose stream decodes the framing (Content-Length, chunked, or read to end of
 * stream) lazily from the underlying input. The reader reads ahead only into its own buffer, so
 * once a body has been read to its end the reader stands exactly after that message and the next
 * head can be read (pipelining). A body that ends early throws {@link EOFException}, never a normal
 * end of stream, so a truncated message can't pass for a complete one.
 *
 * <p>Usage: read a head, then get its body with {@link #requestBody} or {@link #responseBody} (even
 * when it is empty), read the body to its end, then read the next head. Reading a head while the
 * previous body is unread, unfinished or was closed early throws {@link IllegalStateException}:
 * otherwise body bytes would be parsed as the next message. For the same reason, once a head or its
 * framing has been refused, every further call throws {@link IllegalStateException}.
 *
 * <p>The reader never closes the underlying stream; the caller owns it. This class is not
 * thread-safe.
 */
public final class HttpMessageReader {
  /** Size of the read buffer. */
  static final int BUFFER_SIZE = 8192;

  /** Bound of one chunk-size line, extensions included (they are ignored but must be read). */
  static final int MAX_CHUNK_SIZE_LINE = 4096;

  /** 16 hex digits fill a long; more can only be padding or an overflow attempt. */
  private static final int MAX_CHUNK_SIZE_DIGITS = 16;

  // The kinds of line, for error messages and for what a limit or an early end means.
  private static final int REQUEST_LINE = 0;
  private static final int STATUS_LINE = 1;
  private static final int HEADER_LINE = 2;
  private static final int TRAILER_LINE = 3;
  private static final int CHUNK_SIZE_LINE = 4;

  private static final String HTTP_1_1 = "HTTP/1.1";
  private static final String HTTP_1_0 = "HTTP/1.0";
  private static final byte[] NO_BYTES = new byte[0];

  private final InputStream in;
  private final int maxHeadBytes;
  private final byte[] buf = new byte[BUFFER_SIZE];

  /** Next unread byte in {@link #buf}. */
  private int pos;

  /** End of the valid bytes in {@link #buf}. */
  private int limit;

  /** Holds a line that spans buffer refills; grows up to the line's budget. */
  private byte[] scratch = NO_BYTES;

  /** The last line read, without CRLF: {@code lineBytes[lineStart, lineEnd)}. */
  private byte[] lineBytes = buf;

  private int lineStart;
  private int lineEnd;

  /** "request head" or "response head", for limit messages. */
  private String headName = "message head";

  /** True between reading a head and asking for its body. */
  private boolean bodyPending;

  /** The body being read, or null if the last body was empty or none was read yet. */
  private @Nullable BodyStream currentBody;

  /** True once a head or its framing was refused: where the next message starts is unknown. */
  private boolean failed;

  /**
   * Creates a reader.
   *
   * @param in the stream to read; not closed by this reader
   * @param maxHeadBytes the largest start line plus header section in bytes, CRLFs included; the
   *     trailer section of a chunked body has the same bound, counted separately
   */
  public HttpMessageReader(InputStream in, int maxHeadBytes) {
    this.in = Objects.requireNonNull(in, "in");
    if (maxHeadBytes <= 0) {
      throw new IllegalArgumentException("maxHeadBytes must be positive, was " + maxHeadBytes);
    }
    this.maxHeadBytes = maxHeadBytes;
  }

  /**
   * Reads a request line ({@code method SP request-target SP HTTP-version}) and the header section.
   *
   * @throws MalformedMessageException if the bytes are not a valid request head, including an empty
   *     stream or one that ends inside the head
   * @throws HeadTooLargeException (431) if the head exceeds {@code maxHeadBytes}
   * @throws IllegalStateException if the previous message's body was not read to its end
   */
  public RequestHead readRequestHead() throws IOException {
    return readHead("request head", this::parseRequestHead);
  }

  /** A head parser of this reader. */
  @FunctionalInterface
  private interface HeadParser<T> {
    T parse() throws IOException;
  }

  /** Parses a head; after any failure the reader refuses to go on (the stream is out of step). */
  private <T> T readHead(String what, HeadParser<T> parser) throws IOException {
    beginHead(what);
    try {
      return parser.parse();
    } catch (RuntimeException | IOException e) {
      failed = true;
      throw e;
    }
  }

  private RequestHead parseRequestHead() throws IOException {
    int budget = maxHeadBytes;
    int consumed = readLine(budget, REQUEST_LINE, 0);
    if (consumed < 0) {
      throw new MalformedMessageException("empty message: end of stream before the request line");
    }
    budget -= consumed;
    byte[] a = lineBytes;
    int end = lineEnd;

    int i = lineStart;
    while (i < end && HttpSyntax.isTchar(a[i])) {
      i++;
    }
    if (i == lineStart) {
      throw i == end
          ? new MalformedMessageException("empty request line")
          : invalid(a[i], "method", REQUEST_LINE, 0);
    }
    if (i == end) {
      throw new MalformedMessageException("missing request target in request line");
    }
    if (a[i] != SP) {
      throw invalid(a[i], "method", REQUEST_LINE, 0);
    }
    String method = method(a, lineStart, i);

    int targetStart = ++i;
    while (i < end && HttpSyntax.isTargetChar(a[i])) {
      i++;
    }
    if (i == targetStart) {
      throw i == end
          ? new MalformedMessageException("missing request target in request line")
          : invalid(a[i], "request target", REQUEST_LINE, 0);
    }
    if (i == end) {
      throw new MalformedMessageException("missing HTTP version in request line");
    }
    if (a[i] != SP) {
      throw invalid(a[i], "request target", REQUEST_LINE, 0);
    }
    String target = new String(a, targetStart, i - targetStart, ISO_8859_1);

    int versionStart = i + 1;
    String version = version(a, versionStart, end, REQUEST_LINE);

    Headers headers = readFields(budget, HEADER_LINE);
    bodyPending = true;
    return new RequestHead(method, target, version, headers);
  }

  /**
   * Reads a status line ({@code HTTP-version SP 3DIGIT [SP reason-phrase]}) and the header section.
   * Any {@code HTTP/<digit>.<digit>} version is accepted (some agents send {@code HTTP/2.0}); the
   * reason phrase may be empty or missing and may hold SP, HTAB and obs-text.
   *
   * @throws MalformedMessageException if the bytes are not a valid response head
   * @throws HeadTooLargeException (431) if the head exceeds {@code maxHeadBytes}
   * @throws IllegalStateException if the previous message's body was not read to its end
   */
  public ResponseHead readResponseHead() throws IOException {
    return readHead("response head", this::parseResponseHead);
  }

  private ResponseHead parseResponseHead() throws IOException {
    int budget = maxHeadBytes;
    int consumed = readLine(budget, STATUS_LINE, 0);
    if (consumed < 0) {
      throw new MalformedMessageException("empty message: end of stream before the status line");
    }
    budget -= consumed;
    byte[] a = lineBytes;
    int start = lineStart;
    int end = lineEnd;

    int versionEnd = start;
    while (versionEnd < end && a[versionEnd] != SP) {
      versionEnd++;
    }
    String version = version(a, start, versionEnd, STATUS_LINE);
    int i = versionEnd + 1;
    if (end - i < 3) {
      throw new MalformedMessageException("missing 3-digit status code in status line");
    }
    if (!HttpSyntax.isDigit(a[i])
        || !HttpSyntax.isDigit(a[i + 1])
        || !HttpSyntax.isDigit(a[i + 2])) {
      throw new MalformedMessageException("status code is not 3 digits in status line");
    }
    int status = (a[i] - '0') * 100 + (a[i + 1] - '0') * 10 + (a[i + 2] - '0');
    if (status < 100) {
      throw new MalformedMessageException("status code " + status + " below 100 in status line");
    }
    i += 3;
    String reason = "";
    if (i < end) {
      if (a[i] != SP) {
        throw invalid(a[i], "status code", STATUS_LINE, 0);
      }
      int reasonStart = ++i;
      for (; i < end; i++) {
        if (!HttpSyntax.isFieldChar(a[i])) {
          throw invalid(a[i], "reason phrase", STATUS_LINE, 0);
        }
      }
      reason = new String(a, reasonStart, end - reasonStart, ISO_8859_1);
    }

    Headers headers = readFields(budget, HEADER_LINE);
    bodyPending = true;
    return new ResponseHead(version, status, reason, headers);
  }

  /**
   * Returns the body of the request whose head was just read, framed by RFC 9112 §6: chunked if
   * Transfer-Encoding is present (it must be exactly {@code chunked}, and Content-Length must then
   * be absent), else Content-Length bytes, else empty.
   *
   * @throws MalformedMessageException if the framing headers are invalid or contradict each other
   * @throws IllegalStateException if no head is waiting for its body
   */
  public MessageBody requestBody(RequestHead head) {
    beginBody();
    return framedBody(head.headers(), false);
  }

  /**
   * Returns the body of the response whose head was just read. A response to HEAD and a 1xx, 204 or
   * 304 response have no body whatever their headers say (which are left as they are); otherwise
   * framing is as for requests, except that a response with neither Transfer-Encoding nor
   * Content-Length runs to the end of the stream (length -1, no trailers).
   *
   * @param requestMethod the method of the request this response answers (case-sensitive)
   * @throws MalformedMessageException if the framing headers are invalid or contradict each other
   * @throws IllegalStateException if no head is waiting for its body
   */
  public MessageBody responseBody(ResponseHead head, String requestMethod) {
    beginBody();
    if (HttpSyntax.isBodylessResponse(head.status(), requestMethod)) {
      return MessageBody.empty();
    }
    return framedBody(head.headers(), true);
  }

  // ---------------------------------------------------------------------------------------------
  // Framing

  private void beginHead(String name) {
    checkNotFailed();
    if (bodyPending) {
      throw new IllegalStateException(
          "the previous message's body was not requested; call requestBody or responseBody and"
              + " read it to its end first");
    }
    BodyStream body = currentBody;
    if (body != null && !body.finished) {
      throw new IllegalStateException(
          body.closed
              ? "the previous message's body was closed before its end; the stream position is lost"
              : "the previous message's body has not been read to its end");
    }
    currentBody = null;
    headName = name;
  }

  private void beginBody() {
    checkNotFailed();
    if (!bodyPending) {
      throw new IllegalStateException("no message head is waiting for its body");
    }
    bodyPending = false;
  }

  private void checkNotFailed() {
    if (failed) {
      throw new IllegalStateException(
          "an earlier message head or its framing was refused; the stream position is lost");
    }
  }

  private MessageBody framedBody(Headers headers, boolean untilEofByDefault) {
    try {
      return frame(headers, untilEofByDefault);
    } catch (RuntimeException e) {
      failed = true;
      throw e;
    }
  }

  private MessageBody frame(Headers headers, boolean untilEofByDefault) {
    boolean chunked = false;
    long contentLength = -1;
    List<Header> fields = headers.fields();
    for (int f = 0; f < fields.size(); f++) {
      Header field = fields.get(f);
      if (field.is("Transfer-Encoding")) {
        chunked = true;
      } else if (field.is("Content-Length")) {
        contentLength = contentLength(field.value(), contentLength);
      }
    }
    if (chunked) {
      // RFC 9112 §6.3 lets Transfer-Encoding override Content-Length, but a message with both is
      // the classic smuggling vector: a peer that trusts the other one reads a different message.
      if (contentLength >= 0) {
        throw new MalformedMessageException(
            "both Transfer-Encoding and Content-Length present (possible request smuggling)");
      }
      checkChunkedOnly(headers);
      return track(new ChunkedStream(), -1);
    }
    if (contentLength > 0) {
      return track(new FixedLengthStream(contentLength), contentLength);
    }
    if (contentLength == 0 || !untilEofByDefault) {
      return MessageBody.empty();
    }
    return track(new UntilEofStream(), -1);
  }

  private MessageBody track(BodyStream stream, long contentLength) {
    currentBody = stream;
    return MessageBody.of(stream, contentLength, stream::trailers);
  }

  /**
   * Parses one Content-Length field value (a comma-separated list of equal decimal numbers is
   * tolerated, RFC 9110 §8.6) and checks it against the value of earlier fields.
   *
   * @param previous the value seen so far, or -1
   */
  private static long contentLength(String value, long previous) {
    long result = previous;
    int i = 0;
    int n = value.length();
    do {
      int comma = value.indexOf(',', i);
      int elementEnd = comma < 0 ? n : comma;
      int from = i;
      int to = elementEnd;
      while (from < to && HttpSyntax.isWhitespace(value.charAt(from))) {
        from++;
      }
      while (to > from && HttpSyntax.isWhitespace(value.charAt(to - 1))) {
        to--;
      }
      if (from == to) {
        throw new MalformedMessageException(
            "invalid Content-Length \"" + HttpSyntax.printable(value) + "\": empty value");
      }
      long parsed = 0;
      for (int k = from; k < to; k++) {
        char c = value.charAt(k);
        if (c < '0' || c > '9') {
          throw new MalformedMessageException(
              "invalid Content-Length \""
                  + HttpSyntax.printable(value)
                  + "\": only decimal digits are allowed");
        }
        if (parsed > (Long.MAX_VALUE - (c - '0')) / 10) {
          throw new MalformedMessageException(
              "invalid Content-Length \"" + HttpSyntax.printable(value) + "\": too large");
        }
        parsed = parsed * 10 + (c - '0');
      }
      if (result >= 0 && result != parsed) {
        throw new MalformedMessageException(
            "conflicting Content-Length values " + result + " and " + parsed);
      }
      result = parsed;
      i = elementEnd + 1;
    } while (i <= n);
    return result;
  }

  /**
   * Checks that the Transfer-Encoding fields, taken together as one list, name exactly one coding:
   * {@code chunked}. Other codings (gzip, ...) would have to be undone before re-framing, and a
   * list the proxy and the next hop could read differently is a smuggling vector, so both are
   * refused. Empty list elements are ignored (RFC 9110 §5.6.1).
   */
  private static void checkChunkedOnly(Headers headers) {
    int codings = 0;
    for (Header field : headers.fields()) {
      if (!field.is("Transfer-Encoding")) {
        continue;
      }
      String value = field.value();
      int n = value.length();
      int i = 0;
      do {
        int comma = value.indexOf(',', i);
        int elementEnd = comma < 0 ? n : comma;
        int from = i;
        int to = elementEnd;
        while (from < to && HttpSyntax.isWhitespace(value.charAt(from))) {
          from++;
        }
        while (to > from && HttpSyntax.isWhitespace(value.charAt(to - 1))) {
          to--;
        }
        if (from < to) {
          if (to - from != 7 || !value.regionMatches(true, from, "chunked", 0, 7)) {
            throw new MalformedMessageException(
                "unsupported Transfer-Encoding \""
                    + HttpSyntax.printable(value)
                    + "\": only chunked is accepted");
          }
          codings++;
        }
        i = elementEnd + 1;
      } while (i <= n);
    }
    if (codings == 0) {
      throw new MalformedMessageException("Transfer-Encoding present but names no coding");
    }
    if (codings > 1) {
      throw new MalformedMessageException("Transfer-Encoding applies chunked more than once");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Lines and fields

  /**
   * Reads header (or trailer) field lines up to the empty line.
   *
   * @param budget the bytes the section may still take, CRLFs included
   */
  private Headers readFields(int budget, int kind) throws IOException {
    Headers.Builder builder = null;
    for (int lineNo = 1; ; lineNo++) {
      int consumed = readLine(budget, kind, lineNo);
      if (consumed < 0) {
        throw endOfStream(kind, lineNo);
      }
      budget -= consumed;
      if (lineStart == lineEnd) {
        return builder == null ? Headers.empty() : builder.build();
      }
      if (builder == null) {
        builder = Headers.builder();
      }
      builder.add(field(kind, lineNo));
    }
  }

  /** Parses the current line as {@code field-name ":" OWS field-value OWS}. */
  private Header field(int kind, int lineNo) {
    byte[] a = lineBytes;
    int start = lineStart;
    int end = lineEnd;
    if (HttpSyntax.isWhitespace(a[start])) {
      // obs-fold (RFC 9112 §5.2): a line continuing the previous value. Refused because peers
      // disagree on how to unfold it.
      throw new MalformedMessageException(
          "obs-fold (line starting with whitespace) in " + describe(kind, lineNo));
    }
    int i = start;
    while (i < end && HttpSyntax.isTchar(a[i])) {
      i++;
    }
    if (i == end) {
      throw new MalformedMessageException("missing colon in " + describe(kind, lineNo));
    }
    if (a[i] != ':') {
      if (HttpSyntax.isWhitespace(a[i])) {
        int j = i;
        while (j < end && HttpSyntax.isWhitespace(a[j])) {
          j++;
        }
        // RFC 9112 §5.1: no whitespace is allowed between the field name and the colon; a server
        // must reject such a line because peers disagree on the name.
        throw new MalformedMessageException(
            (j < end && a[j] == ':'
                    ? "whitespace before colon in "
                    : "whitespace in field name in ")
                + describe(kind, lineNo));
      }
      throw invalid(a[i], "field name", kind, lineNo);
    }
    if (i == start) {
      throw new MalformedMessageException("empty field name in " + describe(kind, lineNo));
    }
    String name = new String(a, start, i - start, ISO_8859_1);

    int valueStart = i + 1;
    int valueEnd = end;
    while (valueStart < valueEnd && HttpSyntax.isWhitespace(a[valueStart])) {
      valueStart++;
    }
    while (valueEnd > valueStart && HttpSyntax.isWhitespace(a[valueEnd - 1])) {
      valueEnd--;
    }
    for (int k = valueStart; k < valueEnd; k++) {
      if (!HttpSyntax.isFieldChar(a[k])) {
        throw invalid(a[k], "value", kind, lineNo);
      }
    }
    String value =
        valueStart == valueEnd ? "" : new String(a, valueStart, valueEnd - valueStart, ISO_8859_1);
    return new Header(name, value);
  }

  /** Parses {@code HTTP/<digit>.<digit>} at {@code a[from, to)}. */
  private static String version(byte[] a, int from, int to, int kind) {
    if (!HttpSyntax.isVersion(a, from, to)) {
      for (int k = from; k < to; k++) {
        if (a[k] == 0 || a[k] == CR) {
          throw invalid(a[k], "HTTP version", kind, 0);
        }
      }
      throw new MalformedMessageException(
          (from == to ? "missing HTTP version in " : "invalid HTTP version in ")
              + describe(kind, 0)
              + ": expected HTTP/<digit>.<digit>");
    }
    if (a[from + 5] == '1' && a[from + 7] == '1') {
      return HTTP_1_1;
    }
    if (a[from + 5] == '1' && a[from + 7] == '0') {
      return HTTP_1_0;
    }
    return new String(a, from, 8, ISO_8859_1);
  }

  /** Returns the method, sharing the string of common ones to spare an allocation. */
  private static String method(byte[] a, int from, int to) {
    int n = to - from;
    if (n == 3 && a[from] == 'G' && a[from + 1] == 'E' && a[from + 2] == 'T') {
      return "GET";
    }
    if (n == 4
        && a[from] == 'P'
        && a[from + 1] == 'O'
        && a[from + 2] == 'S'
        && a[from + 3] == 'T') {
      return "POST";
    }
    return new String(a, from, n, ISO_8859_1);
  }

  /**
   * Reads one CRLF-terminated line into {@code lineBytes[lineStart, lineEnd)} (CRLF excluded). The
   * line is parsed straight from the read buffer; only a line that spans a refill is copied.
   *
   * @param budget the most bytes the line may take, CRLF included
   * @return the bytes consumed, CRLF included, or -1 if the stream ended before the line's first
   *     byte
   */
  private int readLine(int budget, int kind, int lineNo) throws IOException {
    int scratchLength = 0;
    while (true) {
      if (pos == limit && !fill()) {
        if (scratchLength == 0) {
          return -1;
        }
        throw endOfStream(kind, lineNo);
      }
      // Search only as far as the budget allows, so an endless line fails as soon as it is too
      // long instead of after it has been buffered.
      int searchEnd = Math.min(limit, pos + (budget - scratchLength));
      int lf = pos;
      while (lf < searchEnd && buf[lf] != LF) {
        lf++;
      }
      if (lf < searchEnd) {
        int consumed;
        if (scratchLength == 0) {
          lineBytes = buf;
          lineStart = pos;
          consumed = lf + 1 - pos;
        } else {
          scratchLength = appendToScratch(scratchLength, lf + 1);
          lineBytes = scratch;
          lineStart = 0;
          consumed = scratchLength;
        }
        pos = lf + 1;
        lineEnd = lineStart + consumed - 1; // at the LF
        if (lineEnd == lineStart || lineBytes[lineEnd - 1] != CR) {
          throw new MalformedMessageException("bare LF in " + describe(kind, lineNo));
        }
        lineEnd--;
        return consumed;
      }
      if (searchEnd < limit || scratchLength + (limit - pos) >= budget) {
        throw tooLong(kind);
      }
      scratchLength = appendToScratch(scratchLength, limit);
    }
  }

  /** Appends {@code buf[pos, to)} to the scratch line and consumes it. */
  private int appendToScratch(int scratchLength, int to) {
    int n = to - pos;
    int needed = scratchLength + n;
    if (needed > scratch.length) {
      scratch = Arrays.copyOf(scratch, Math.max(needed, scratch.length * 2 + 128));
    }
    System.arraycopy(buf, pos, scratch, scratchLength, n);
    pos = to;
    return needed;
  }

  /** Refills the empty buffer; returns false at the end of the stream. */
  private boolean fill() throws IOException {
    int n;
    do {
      n = in.read(buf, 0, buf.length);
    } while (n == 0);
    pos = 0;
    limit = Math.max(n, 0);
    return n > 0;
  }

  /**
   * Reads up to {@code len} bytes that the caller knows belong to the current body: buffered bytes
   * first, then straight from the stream for large reads (no copy, and never past the message
   * because {@code len} is bounded by the body), else through the buffer.
   *
   * @return the bytes read, or -1 at the end of the stream
   */
  private int readBodyBytes(byte[] b, int off, int len) throws IOException {
    if (pos == limit) {
      if (len >= buf.length) {
        int n;
        do {
          n = in.read(b, off, len);
        } while (n == 0);
        return n;
      }
      if (!fill()) {
        return -1;
      }
    }
    int n = Math.min(len, limit - pos);
    System.arraycopy(buf, pos, b, off, n);
    pos += n;
    return n;
  }

  /** Returns the next byte of the stream, or -1 at its end. */
  private int readByte() throws IOException {
    if (pos == limit && !fill()) {
      return -1;
    }
    return buf[pos++] & 0xFF;
  }

  private int buffered() {
    return limit - pos;
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  private static String describe(int kind, int lineNo) {
    switch (kind) {
      case REQUEST_LINE:
        return "request line";
      case STATUS_LINE:
        return "status line";
      case HEADER_LINE:
        return "header line " + lineNo;
      case TRAILER_LINE:
        return "trailer line " + lineNo;
      default:
        return "chunk size line";
    }
  }

  private static MalformedMessageException invalid(byte b, String part, int kind, int lineNo) {
    String where = describe(kind, lineNo);
    if (b == 0) {
      return new MalformedMessageException("NUL byte in " + where);
    }
    if (b == CR) {
      return new MalformedMessageException("bare CR in " + where);
    }
    return new MalformedMessageException(
        "invalid character " + describeByte(b) + " in " + part + " in " + where);
  }

  /**
   * Reports a stream that ended inside a line. Inside a head the bytes are not a message
   * (malformed, thrown here); inside a body the message was truncated, which callers must see as an
   * {@link EOFException} (returned, for the caller to throw).
   */
  private IOException endOfStream(int kind, int lineNo) {
    if (kind == TRAILER_LINE || kind == CHUNK_SIZE_LINE) {
      return new EOFException(
          "unexpected end of stream in "
              + (kind == TRAILER_LINE ? "trailer section" : "chunk size line"));
    }
    throw new MalformedMessageException(
        "unexpected end of stream in the "
            + headName
            + (kind == HEADER_LINE ? " at " + describe(kind, lineNo) : " in " + describe(kind, 0)));
  }

  private RuntimeException tooLong(int kind) {
    switch (kind) {
      case CHUNK_SIZE_LINE:
        return new MalformedMessageException(
            "chunk size line longer than " + MAX_CHUNK_SIZE_LINE + " bytes");
      case TRAILER_LINE:
        return new HeadTooLargeException(
            "trailer section larger than the limit of " + maxHeadBytes + " bytes");
      default:
        return new HeadTooLargeException(
            headName + " larger than the limit of " + maxHeadBytes + " bytes");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Body streams

  /**
   * A body stream over the reader's buffer and input. {@link #close()} only marks the body
   * abandoned: the underlying stream belongs to the caller.
   */
  private abstract class BodyStream extends InputStream {
    boolean finished;
    boolean closed;
    private byte @Nullable [] oneByte;

    /** Returns the trailers; empty until the stream has reached its end. */
    Headers trailers() {
      return Headers.empty();
    }

    @Override
    public final int read() throws IOException {
      byte[] one = oneByte;
      if (one == null) {
        one = oneByte = new byte[1];
      }
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public final int read(byte[] b, int off, int len) throws IOException {
      Objects.checkFromIndexSize(off, len, b.length);
      if (closed) {
        throw new IOException("body stream closed");
      }
      if (len == 0) {
        return 0;
      }
      if (finished) {
        return -1;
      }
      return readBody(b, off, len);
    }

    /** Reads 1 to {@code len} bytes of an unfinished body; {@code len > 0}. */
    abstract int readBody(byte[] b, int off, int len) throws IOException;

    @Override
    public final int available() throws IOException {
      return closed || finished ? 0 : availableBody();
    }

    abstract int availableBody() throws IOException;

    @Override
    public void close() {
      closed = true;
    }
  }

  /** Exactly {@code remaining} bytes (Content-Length). */
  private final class FixedLengthStream extends BodyStream {
    private long remaining;

    FixedLengthStream(long length) {
      this.remaining = length;
    }

    @Override
    int readBody(byte[] b, int off, int len) throws IOException {
      int n = readBodyBytes(b, off, (int) Math.min(len, remaining));
      if (n < 0) {
        throw new EOFException(
            "unexpected end of stream: " + remaining + " more body bytes expected");
      }
      remaining -= n;
      finished = remaining == 0;
      return n;
    }

    @Override
    int availableBody() throws IOException {
      int buffered = buffered();
      return (int) Math.min(remaining, buffered > 0 ? buffered : in.available());
    }
  }

  /** Everything up to the end of the stream (a response without framing headers). */
  private final class UntilEofStream extends BodyStream {
    @Override
    int readBody(byte[] b, int off, int len) throws IOException {
      int n = readBodyBytes(b, off, len);
      if (n < 0) {
        finished = true;
      }
      return n;
    }

    @Override
    int availableBody() throws IOException {
      int buffered = buffered();
      return buffered > 0 ? buffered : in.available();
    }
  }

  /** The chunked transfer coding (RFC 9112 §7.1), decoded; trailers are kept. */
  private final class ChunkedStream extends BodyStream {
    /** Data bytes left in the current chunk; 0 between chunks. */
    private long chunkRemaining;

    /** True once a chunk's data is read and its CRLF is still due. */
    private boolean crlfDue;

    private Headers trailers = Headers.empty();

    @Override
    Headers trailers() {
      return trailers;
    }

    @Override
    int readBody(byte[] b, int off, int len) throws IOException {
      if (chunkRemaining == 0) {
        if (crlfDue) {
          readChunkCrlf();
          crlfDue = false;
        }
        long size = readChunkSize();
        if (size == 0) {
          trailers = readFields(maxHeadBytes, TRAILER_LINE);
          finished = true;
          return -1;
        }
        chunkRemaining = size;
      }
      int n = readBodyBytes(b, off, (int) Math.min(len, chunkRemaining));
      if (n < 0) {
        throw new EOFException(
            "unexpected end of stream: " + chunkRemaining + " more bytes expected in chunk");
      }
      chunkRemaining -= n;
      crlfDue = chunkRemaining == 0;
      return n;
    }

    private void readChunkCrlf() throws IOException {
      int cr = readByte();
      int lf = cr < 0 ? -1 : readByte();
      if (lf < 0) {
        throw new EOFException("unexpected end of stream: CRLF expected after chunk data");
      }
      if (cr != CR || lf != LF) {
        throw new MalformedMessageException("chunk data not followed by CRLF");
      }
    }

    /** Reads {@code chunk-size [chunk-ext] CRLF}; extensions are checked for syntax, ignored. */
    private long readChunkSize() throws IOException {
      if (readLine(MAX_CHUNK_SIZE_LINE, CHUNK_SIZE_LINE, 0) < 0) {
        throw endOfStream(CHUNK_SIZE_LINE, 0);
      }
      byte[] a = lineBytes;
      int i = lineStart;
      int end = lineEnd;
      long size = 0;
      while (i < end) {
        int digit = HttpSyntax.hexValue(a[i]);
        if (digit < 0) {
          break;
        }
        if (i - lineStart == MAX_CHUNK_SIZE_DIGITS) {
          throw new MalformedMessageException(
              "chunk size has more than " + MAX_CHUNK_SIZE_DIGITS + " hex digits");
        }
        size = (size << 4) | digit;
        i++;
      }
      if (i == lineStart) {
        throw i == end
            ? new MalformedMessageException("empty chunk size")
            : invalid(a[i], "chunk size", CHUNK_SIZE_LINE, 0);
      }
      if (size < 0) {
        throw new MalformedMessageException("chunk size too large");
      }
      if (i < end) {
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] ): ignored, but it may
        // hold no control characters, so nothing can hide a line break in it.
        int j = i;
        while (j < end && HttpSyntax.isWhitespace(a[j])) {
          j++;
        }
        if (j == end) {
          throw new MalformedMessageException("whitespace after chunk size without an extension");
        }
        if (a[j] != ';') {
          throw invalid(a[j], "chunk size", CHUNK_SIZE_LINE, 0);
        }
        for (j++; j < end; j++) {
          if (!HttpSyntax.isFieldChar(a[j])) {
            throw invalid(a[j], "chunk extension", CHUNK_SIZE_LINE, 0);
          }
        }
      }
      return size;
    }

    @Override
    int availableBody() throws IOException {
      if (chunkRemaining == 0) {
        return 0; // between chunks: the next size line is still to be parsed
      }
      int buffered = buffered();
      return (int) Math.min(chunkRemaining, buffered > 0 ? buffered : in.available());
    }
  }
}
