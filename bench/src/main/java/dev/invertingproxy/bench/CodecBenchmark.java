package dev.invertingproxy.bench;

import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.core.internal.wire.HttpMessageReader;
import dev.invertingproxy.core.internal.wire.HttpMessageWriter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The wire codec on the hot path of every relayed request: the proxy writes the client's request
 * for the agent, the agent parses it; the agent writes the backend's response, the proxy parses
 * it. Messages the size of a browser's GET and a small page.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar CodecBenchmark}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CodecBenchmark {
  private static final String REQUEST =
      "GET /app/items/42?view=full HTTP/1.1\r\n"
          + "Host: proxy.example\r\n"
          + "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
          + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
          + "Accept-Language: en-US,en;q=0.5\r\n"
          + "Accept-Encoding: gzip, deflate, br\r\n"
          + "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n"
          + "X-Forwarded-For: 203.0.113.7\r\n"
          + "X-Forwarded-Proto: https\r\n"
          + "X-Forwarded-Host: proxy.example\r\n"
          + "\r\n";
  private static final String RESPONSE_HEAD =
      "HTTP/1.1 200 OK\r\n"
          + "Server: nginx\r\n"
          + "Date: Wed, 02 Dec 2026 10:00:00 GMT\r\n"
          + "Content-Type: text/html\r\n"
          + "Last-Modified: Wed, 02 Dec 2026 09:00:00 GMT\r\n"
          + "ETag: \"6560a1b0-64\"\r\n"
          + "Accept-Ranges: bytes\r\n"
          + "Content-Length: 100\r\n"
          + "\r\n";

  private byte[] request;
  private byte[] response;
  private RequestHead requestHead;
  private ResponseHead responseHead;
  private final byte[] page = "x".repeat(100).getBytes(StandardCharsets.US_ASCII);
  private final ByteArrayOutputStream out = new ByteArrayOutputStream(4096);

  @Setup
  public void setUp() throws IOException {
    request = REQUEST.getBytes(StandardCharsets.ISO_8859_1);
    byte[] head = RESPONSE_HEAD.getBytes(StandardCharsets.ISO_8859_1);
    response = new byte[head.length + page.length];
    System.arraycopy(head, 0, response, 0, head.length);
    System.arraycopy(page, 0, response, head.length, page.length);
    requestHead = new HttpMessageReader(new ByteArrayInputStream(request), 64 * 1024).readRequestHead();
    responseHead = new HttpMessageReader(new ByteArrayInputStream(response), 64 * 1024).readResponseHead();
  }

  @Benchmark
  public RequestHead parseRequestHead() throws IOException {
    return new HttpMessageReader(new ByteArrayInputStream(request), 64 * 1024).readRequestHead();
  }

  @Benchmark
  public int parseResponse() throws IOException {
    HttpMessageReader reader = new HttpMessageReader(new ByteArrayInputStream(response), 64 * 1024);
    ResponseHead head = reader.readResponseHead();
    try (MessageBody body = reader.responseBody(head, "GET"); InputStream in = body.stream()) {
      return in.readAllBytes().length;
    }
  }

  @Benchmark
  public int writeRequest() throws IOException {
    out.reset();
    HttpMessageWriter.writeRequest(out, requestHead, MessageBody.of(new byte[0]));
    return out.size();
  }

  @Benchmark
  public int writeResponse() throws IOException {
    out.reset();
    HttpMessageWriter.writeResponse(out, responseHead, MessageBody.of(page), "GET");
    return out.size();
  }
}
