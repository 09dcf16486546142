package dev.invertingproxy.core.internal.wire;

import static dev.invertingproxy.core.internal.wire.WireTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.invertingproxy.Headers;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.internal.wire.WireTestSupport.ChoppedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;

/**
 * Properties of the codec: what the writer writes, the reader reads back unchanged, however the
 * bytes arrive; and no input makes the reader fail other than with its documented exceptions.
 */
class HttpCodecPropertyTest {
  private static final String TCHARS =
      "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  private static final int MAX_HEAD = 1 << 20;

  // -----------------------------------------------------------------------------------------------
  // Round trips

  @Property(tries = 150)
  void requestRoundTrip(@ForAll("requestHeads") RequestHead head, @ForAll("bodies") BodySpec body)
      throws IOException {
    byte[] wire = writeRequest(head, body);

    checkRequest(new ByteArrayInputStream(wire), head, body);
  }

  @Property(tries = 150)
  void requestRoundTripWithSmallReads(
      @ForAll("requestHeads") RequestHead head,
      @ForAll("bodies") BodySpec body,
      @ForAll @IntRange(min = 1, max = 64) int maxRead,
      @ForAll long seed)
      throws IOException {
    byte[] wire = writeRequest(head, body);

    checkRequest(new ChoppedInputStream(wire, maxRead, seed), head, body);
  }

  @Property(tries = 150)
  void responseRoundTrip(
      @ForAll("responseHeads") ResponseHead head,
      @ForAll("bodies") BodySpec body,
      @ForAll("methods") String method)
      throws IOException {
    byte[] wire = writeResponse(head, body, method);

    checkResponse(new ByteArrayInputStream(wire), head, body, method);
  }

  @Property(tries = 150)
  void responseRoundTripWithSmallReads(
      @ForAll("responseHeads") ResponseHead head,
      @ForAll("bodies") BodySpec body,
      @ForAll("methods") String method,
      @ForAll @IntRange(min = 1, max = 64) int maxRead,
      @ForAll long seed)
      throws IOException {
    byte[] wire = writeResponse(head, body, method);

    checkResponse(new ChoppedInputStream(wire, maxRead, seed), head, body, method);
  }

  @Property(tries = 50)
  void pipelinedRequestsRoundTrip(
      @ForAll("requestHeads") RequestHead first,
      @ForAll("smallBodies") BodySpec firstBody,
      @ForAll("requestHeads") RequestHead second,
      @ForAll("smallBodies") BodySpec secondBody,
      @ForAll @IntRange(min = 1, max = 300) int maxRead,
      @ForAll long seed)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(writeRequest(first, firstBody));
    out.write(writeRequest(second, secondBody));
    HttpMessageReader reader =
        new HttpMessageReader(new ChoppedInputStream(out.toByteArray(), maxRead, seed), MAX_HEAD);

    checkNextRequest(reader, first, firstBody);
    checkNextRequest(reader, second, secondBody);
  }

  private static byte[] writeRequest(RequestHead head, BodySpec body) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    HttpMessageWriter.writeRequest(out, head, body.toMessageBody());
    return out.toByteArray();
  }

  private static byte[] writeResponse(ResponseHead head, BodySpec body, String method)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    HttpMessageWriter.writeResponse(out, head, body.toMessageBody(), method);
    return out.toByteArray();
  }

  private static void checkRequest(InputStream in, RequestHead head, BodySpec body)
      throws IOException {
    checkNextRequest(new HttpMessageReader(in, MAX_HEAD), head, body);
  }

  private static void checkNextRequest(HttpMessageReader reader, RequestHead head, BodySpec body)
      throws IOException {
    RequestHead read = reader.readRequestHead();
    assertThat(read).isEqualTo(head.withHeaders(framed(head.headers(), body, false)));

    MessageBody readBody = reader.requestBody(read);
    assertThat(readBody.contentLength()).isEqualTo(body.chunked() ? -1 : body.size());
    assertThat(readAll(readBody.stream())).isEqualTo(body.data());
    assertThat(readBody.trailers()).isEqualTo(body.chunked() ? body.trailers() : Headers.empty());
  }

  private static void checkResponse(InputStream in, ResponseHead head, BodySpec body, String method)
      throws IOException {
    HttpMessageReader reader = new HttpMessageReader(in, MAX_HEAD);
    ResponseHead read = reader.readResponseHead();
    MessageBody readBody = reader.responseBody(read, method);

    if (HttpSyntax.isBodylessResponse(head.status(), method)) {
      assertThat(read).isEqualTo(head);
      assertThat(readBody.contentLength()).isZero();
      assertThat(readAll(readBody.stream())).isEmpty();
    } else {
      assertThat(read).isEqualTo(head.withHeaders(framed(head.headers(), body, true)));
      assertThat(readBody.contentLength()).isEqualTo(body.chunked() ? -1 : body.size());
      assertThat(readAll(readBody.stream())).isEqualTo(body.data());
      assertThat(readBody.trailers()).isEqualTo(body.chunked() ? body.trailers() : Headers.empty());
    }
  }

  /** Returns the headers the writer sends: generated heads carry no framing fields of their own. */
  private static Headers framed(Headers headers, BodySpec body, boolean response) {
    if (body.chunked()) {
      return headers.toBuilder().add("Transfer-Encoding", "chunked").build();
    }
    if (body.size() > 0 || response) {
      return headers.toBuilder().add("Content-Length", Integer.toString(body.size())).build();
    }
    return headers;
  }

  // -----------------------------------------------------------------------------------------------
  // Robustness

  @Property(tries = 300)
  void arbitraryBytesFailOnlyWithDocumentedExceptions(
      @ForAll("garbage") byte[] input,
      @ForAll boolean response,
      @ForAll("headLimits") int maxHead,
      @ForAll @IntRange(min = 1, max = 100) int maxRead) {
    consumeWithin(input, response, maxHead, maxRead);
  }

  @Property(tries = 300)
  void httpLikeTextFailsOnlyWithDocumentedExceptions(
      @ForAll("httpLikeText") String text,
      @ForAll boolean response,
      @ForAll boolean validStartLine,
      @ForAll("headLimits") int maxHead,
      @ForAll @IntRange(min = 1, max = 100) int maxRead) {
    // A valid start line first gets the parse into the header section and the body more often.
    String start = !validStartLine ? "" : response ? "HTTP/1.1 200 OK\r\n" : "POST / HTTP/1.1\r\n";

    consumeWithin(WireTestSupport.bytes(start + text), response, maxHead, maxRead);
  }

  @Property(tries = 300)
  void mutatedRequestsFailOnlyWithDocumentedExceptions(
      @ForAll("requestHeads") RequestHead head,
      @ForAll("smallBodies") BodySpec body,
      @ForAll("mutations") List<Mutation> mutations,
      @ForAll("headLimits") int maxHead,
      @ForAll @IntRange(min = 1, max = 100) int maxRead)
      throws IOException {
    byte[] wire = mutate(writeRequest(head, body), mutations);

    consumeWithin(wire, false, maxHead, maxRead);
  }

  @Property(tries = 300)
  void mutatedResponsesFailOnlyWithDocumentedExceptions(
      @ForAll("responseHeads") ResponseHead head,
      @ForAll("smallBodies") BodySpec body,
      @ForAll("mutations") List<Mutation> mutations,
      @ForAll("headLimits") int maxHead,
      @ForAll @IntRange(min = 1, max = 100) int maxRead)
      throws IOException {
    byte[] wire = mutate(writeResponse(head, body, "GET"), mutations);

    consumeWithin(wire, true, maxHead, maxRead);
  }

  /**
   * Reads messages (head, then body to its end) until the input is used up, and accepts only the
   * documented ways to fail. A time limit catches endless loops.
   */
  private static void consumeWithin(byte[] input, boolean response, int maxHead, int maxRead) {
    assertTimeoutPreemptively(
        Duration.ofSeconds(10),
        () -> {
          HttpMessageReader reader =
              new HttpMessageReader(new ChoppedInputStream(input, maxRead, input.length), maxHead);
          try {
            for (int i = 0; i < 20; i++) {
              MessageBody body;
              if (response) {
                body = reader.responseBody(reader.readResponseHead(), "GET");
              } else {
                body = reader.requestBody(reader.readRequestHead());
              }
              readAll(body.stream());
              assertThat(body.trailers()).isNotNull();
            }
          } catch (IOException | MalformedMessageException | LimitExceededException expected) {
            // The documented failures. An empty rest of input ends the loop here too.
            assertThat(expected.getMessage()).isNotBlank();
            if (expected instanceof LimitExceededException) {
              assertThat(((LimitExceededException) expected).status()).isEqualTo(431);
            }
          }
        });
  }

  private static byte[] mutate(byte[] wire, List<Mutation> mutations) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    List<Byte> bytes = new ArrayList<>(wire.length + mutations.size());
    for (byte b : wire) {
      bytes.add(b);
    }
    for (Mutation mutation : mutations) {
      if (bytes.isEmpty()) {
        break;
      }
      int at = Math.floorMod(mutation.position(), bytes.size());
      switch (mutation.kind()) {
        case FLIP:
          bytes.set(at, (byte) (bytes.get(at) ^ (1 << (mutation.value() & 7))));
          break;
        case REPLACE:
          bytes.set(at, mutation.value());
          break;
        case INSERT:
          bytes.add(at, mutation.value());
          break;
        case DELETE:
          bytes.remove(at);
          break;
        default:
          throw new AssertionError();
      }
    }
    for (byte b : bytes) {
      out.write(b);
    }
    return out.toByteArray();
  }

  // -----------------------------------------------------------------------------------------------
  // Generators

  @Provide
  Arbitrary<RequestHead> requestHeads() {
    return Combinators.combine(tokens(), targets(), versions(), headers(12)).as(RequestHead::new);
  }

  @Provide
  Arbitrary<ResponseHead> responseHeads() {
    Arbitrary<Integer> statuses =
        Arbitraries.oneOf(
            Arbitraries.of(100, 101, 200, 201, 204, 206, 301, 304, 404, 500, 999),
            Arbitraries.integers().between(100, 999));
    return Combinators.combine(versions(), statuses, reasons(), headers(12)).as(ResponseHead::new);
  }

  @Provide
  Arbitrary<String> methods() {
    return Arbitraries.oneOf(Arbitraries.of("GET", "HEAD", "POST"), tokens());
  }

  @Provide
  Arbitrary<BodySpec> bodies() {
    Arbitrary<Integer> sizes =
        Arbitraries.oneOf(
            Arbitraries.integers().between(0, 64 * 1024),
            Arbitraries.integers().between(0, 300),
            Arbitraries.of(
                0, 1, HttpMessageReader.BUFFER_SIZE, HttpMessageWriter.COPY_BUFFER_SIZE));
    return bodies(sizes);
  }

  @Provide
  Arbitrary<BodySpec> smallBodies() {
    return bodies(Arbitraries.integers().between(0, 200));
  }

  private Arbitrary<BodySpec> bodies(Arbitrary<Integer> sizes) {
    return Combinators.combine(
            sizes,
            Arbitraries.longs(),
            Arbitraries.of(true, false),
            headers(4),
            Arbitraries.integers().between(1, 20_000))
        .as(BodySpec::new);
  }

  @Provide
  Arbitrary<byte[]> garbage() {
    return Arbitraries.bytes().array(byte[].class).ofMaxSize(400);
  }

  /** Concatenations of HTTP fragments: far likelier than random bytes to get deep into a parse. */
  @Provide
  Arbitrary<String> httpLikeText() {
    return Arbitraries.of(
            "GET ",
            "POST ",
            "HEAD ",
            "HTTP/1.1 ",
            "HTTP/1.1",
            "200 ",
            "OK",
            "/",
            "/a?b=%20",
            " ",
            "\t",
            "\r\n",
            "\r\n\r\n",
            "\r",
            "\n",
            ":",
            ": ",
            "Host: x\r\n",
            "X-A: b\r\n",
            "Content-Length: ",
            "Content-Length: 5\r\n",
            "Content-Length: 0\r\n",
            "Transfer-Encoding: chunked\r\n",
            "Transfer-Encoding: gzip\r\n",
            "chunked",
            "0",
            "5",
            "1a",
            "5\r\nhello\r\n",
            "0\r\n\r\n",
            "0\r\nT: 1\r\n\r\n",
            ";ext=1",
            "ffffffffffffffffff",
            "99999999999999999999",
            "hello",
            "\u0000",
            "\u00ff",
            ",")
        .list()
        .ofMaxSize(40)
        .map(parts -> String.join("", parts));
  }

  @Provide
  Arbitrary<Integer> headLimits() {
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.integers().between(1, 200)), Tuple.of(4, Arbitraries.just(8192)));
  }

  @Provide
  Arbitrary<List<Mutation>> mutations() {
    return Combinators.combine(
            Arbitraries.of(MutationKind.class),
            // Uniform and without edge cases (0, 1, 2, ...): the default bias towards small numbers
            // would mutate mostly the start line.
            Arbitraries.integers()
                .between(0, Integer.MAX_VALUE)
                .withDistribution(RandomDistribution.uniform())
                .withoutEdgeCases(),
            Arbitraries.oneOf(
                Arbitraries.bytes(),
                Arbitraries.of((byte) '\r', (byte) '\n', (byte) ' ', (byte) 0)))
        .as(Mutation::new)
        .list()
        .ofMinSize(1)
        .ofMaxSize(4);
  }

  private static Arbitrary<String> tokens() {
    return Arbitraries.strings().withChars(TCHARS).ofMinLength(1).ofMaxLength(12);
  }

  private static Arbitrary<String> versions() {
    return Arbitraries.oneOf(
        Arbitraries.of("HTTP/1.1", "HTTP/1.0", "HTTP/2.0"),
        Combinators.combine(
                Arbitraries.integers().between(0, 9), Arbitraries.integers().between(0, 9))
            .as((major, minor) -> "HTTP/" + major + "." + minor));
  }

  /** Origin-form targets with percent-encodings, or any visible ASCII at all. */
  private static Arbitrary<String> targets() {
    Arbitrary<String> plain =
        Arbitraries.strings()
            .withChars("abcXYZ019-._~!$&'()*+,;=:@/?")
            .ofMinLength(1)
            .ofMaxLength(8);
    Arbitrary<String> percent =
        Arbitraries.strings().withChars("0123456789abcdefABCDEFzZ").ofLength(2).map(s -> "%" + s);
    Arbitrary<String> originForm =
        Arbitraries.oneOf(plain, percent)
            .list()
            .ofMaxSize(10)
            .map(parts -> "/" + String.join("", parts));
    Arbitrary<String> anyVisible =
        Arbitraries.strings().withCharRange('!', '~').ofMinLength(1).ofMaxLength(40);
    return Arbitraries.oneOf(originForm, anyVisible);
  }

  /** Header lists with mixed-case and repeated names, values with spaces, tabs and obs-text. */
  private static Arbitrary<Headers> headers(int maxSize) {
    Arbitrary<String> commonNames =
        Combinators.combine(
                Arbitraries.of(
                    "Host", "Accept", "Set-Cookie", "X-Forwarded-For", "Cache-Control", "ETag"),
                Arbitraries.longs())
            .as(HttpCodecPropertyTest::randomCase);
    Arbitrary<String> names =
        Arbitraries.oneOf(commonNames, tokens())
            .filter(
                name ->
                    !name.equalsIgnoreCase("Content-Length")
                        && !name.equalsIgnoreCase("Transfer-Encoding"));
    Arbitrary<String> values =
        Arbitraries.strings()
            .withChars(' ', '\t')
            .withCharRange('!', '~')
            .withCharRange('\u0080', '\u00ff')
            .ofMaxLength(30)
            .map(HttpCodecPropertyTest::trimOws);
    return Combinators.combine(names, values)
        .as((name, value) -> new String[] {name, value})
        .list()
        .ofMaxSize(maxSize)
        .map(
            pairs -> {
              Headers.Builder builder = Headers.builder();
              for (String[] pair : pairs) {
                builder.add(pair[0], pair[1]);
              }
              return builder.build();
            });
  }

  private static Arbitrary<String> reasons() {
    return Arbitraries.oneOf(
        Arbitraries.of("OK", "Not Found", ""),
        Arbitraries.strings()
            .withChars(' ', '\t')
            .withCharRange('!', '~')
            .withCharRange('\u0080', '\u00ff')
            .ofMaxLength(20));
  }

  private static String randomCase(String name, long seed) {
    Random random = new Random(seed);
    StringBuilder sb = new StringBuilder(name.length());
    for (char c : name.toCharArray()) {
      sb.append(random.nextBoolean() ? Character.toUpperCase(c) : Character.toLowerCase(c));
    }
    return sb.toString();
  }

  private static String trimOws(String value) {
    int from = 0;
    int to = value.length();
    while (from < to && (value.charAt(from) == ' ' || value.charAt(from) == '\t')) {
      from++;
    }
    while (to > from && (value.charAt(to - 1) == ' ' || value.charAt(to - 1) == '\t')) {
      to--;
    }
    return value.substring(from, to);
  }

  /**
   * A body to write: {@code size} bytes from {@code seed}, framed by length or chunked (then read
   * by the writer in pieces of up to {@code maxRead} bytes, one chunk each) with {@code trailers}.
   */
  record BodySpec(int size, long seed, boolean chunked, Headers trailers, int maxRead) {
    byte[] data() {
      return WireTestSupport.randomBytes(size, seed);
    }

    MessageBody toMessageBody() {
      if (!chunked) {
        return MessageBody.of(data());
      }
      return MessageBody.of(new ChoppedInputStream(data(), maxRead, seed), -1, () -> trailers);
    }

    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "BodySpec[size=%d, seed=%d, %s, trailers=%s, maxRead=%d]",
          size,
          seed,
          chunked ? "chunked" : "length",
          trailers,
          maxRead);
    }
  }

  enum MutationKind {
    FLIP,
    REPLACE,
    INSERT,
    DELETE
  }

  record Mutation(MutationKind kind, int position, byte value) {}
}
