package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.testkit.RawHttpBackend;
import dev.invertingproxy.testkit.RawHttpClient;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.testkit.RawHttpBackend.Received;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The relay end to end over real sockets: a client (raw socket or OkHttp) → the proxy (Jetty 12,
 * servlets) → our OkHttp agent → a raw backend, and back.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RelayIT {
  private Relay relay;
  private OkHttpClient client;

  @BeforeAll
  void start() throws Exception {
    relay = Relay.withAgent();
    client =
        new OkHttpClient.Builder()
            .followRedirects(false)
            .retryOnConnectionFailure(false)
            .readTimeout(30, TimeUnit.SECONDS)
            .build();
  }

  @AfterAll
  void stop() throws Exception {
    relay.close();
    client.dispatcher().executorService().shutdownNow();
    client.connectionPool().evictAll();
  }

  @BeforeEach
  void reset() {
    relay.backend.received.clear();
    relay.backend.respondWith(RawHttpBackend::echo);
  }

  private RawHttpClient raw() throws IOException {
    return new RawHttpClient(relay.port());
  }

  @ParameterizedTest
  @ValueSource(strings = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
  @DisplayName("every method reaches the backend as sent, and its answer comes back")
  void methods(String method) throws Exception {
    boolean withBody = !method.equals("GET") && !method.equals("OPTIONS");
    String body = withBody ? "payload of " + method : "";
    try (RawHttpClient c = raw()) {
      c.send(
          method + " /m?x=1 HTTP/1.1\r\nHost: public.example\r\n"
              + (withBody ? "Content-Length: " + body.length() + "\r\n" : "")
              + "\r\n"
              + body);
      RawHttpClient.Response response = c.read(method);
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo(method + " /m?x=1\n" + body);
    }
    Received received = relay.backend.take();
    assertThat(received.head().method()).isEqualTo(method);
    assertThat(received.bodyText()).isEqualTo(body);
  }

  @Test
  @DisplayName("HEAD is relayed with the backend's headers and no body")
  void head() throws Exception {
    relay.backend.respondWith(
        (request, out) -> {
          if (request.head().method().equals("HEAD")) {
            out.write(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n"
                    .getBytes(StandardCharsets.ISO_8859_1));
          } else {
            RawHttpBackend.echo(request, out);
          }
        });
    try (RawHttpClient c = raw()) {
      c.send("HEAD /h HTTP/1.1\r\nHost: public.example\r\n\r\n");
      RawHttpClient.Response response = c.read("HEAD");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.headers().first("Content-Length")).contains("1234");
      assertThat(response.body()).isEmpty();
      // the connection is still usable: no stray body bytes were sent
      c.send("GET /after HTTP/1.1\r\nHost: public.example\r\n\r\n");
      assertThat(c.read("GET").status()).isEqualTo(200);
    }
    assertThat(relay.backend.take().head().method()).isEqualTo("HEAD");
    assertThat(relay.backend.take().head().method()).isEqualTo("GET");
  }

  @Test
  @DisplayName("query strings and percent-encoded paths, %2F included, reach the backend unchanged")
  void rawTargets() throws Exception {
    String target = "/a%2Fb/c%20d/%E2%82%AC?q=%2F%20x&y=1&y=2&empty=";
    try (RawHttpClient c = raw()) {
      c.send("GET " + target + " HTTP/1.1\r\nHost: public.example\r\n\r\n");
      assertThat(c.read("GET").status()).isEqualTo(200);
    }
    assertThat(relay.backend.take().head().target()).isEqualTo(target);
  }

  @Test
  @DisplayName("Host as the client sent it, repeated headers in order, header case kept")
  void headersPreserved() throws Exception {
    try (RawHttpClient c = raw()) {
      c.send(
          "GET /h HTTP/1.1\r\nHost: Public.Example:8443\r\nX-Rep: one\r\nx-mixed-CASE: v\r\n"
              + "X-Rep: two\r\naccept: */*\r\ncontent-TYPE: text/plain\r\n\r\n");
      assertThat(c.read("GET").status()).isEqualTo(200);
    }
    Headers headers = relay.backend.take().head().headers();
    assertThat(headers.all("Host")).containsExactly("Public.Example:8443");
    assertThat(headers.all("X-Rep")).containsExactly("one", "two");
    assertThat(headers.fields())
        .extracting(Header::name)
        .contains("x-mixed-CASE", "accept", "content-TYPE");
    List<String> names = headers.fields().stream().map(Header::name).toList();
    assertThat(names.indexOf("Host")).isLessThan(names.indexOf("X-Rep"));
    assertThat(names.indexOf("X-Rep")).isLessThan(names.indexOf("accept"));
  }

  @Test
  @DisplayName("repeated response headers reach the client in order")
  void repeatedResponseHeaders() throws Exception {
    relay.backend.respondWith(
        (request, out) ->
            out.write(
                ("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Custom-Case: v\r\nSet-Cookie: b=2\r\n"
                        + "content-type: text/html; charset=utf-8\r\netag: \"x\"\r\n"
                        + "Content-Length: 2\r\n\r\nok")
                    .getBytes(StandardCharsets.ISO_8859_1)));
    try (RawHttpClient c = raw()) {
      c.send("GET / HTTP/1.1\r\nHost: public.example\r\n\r\n");
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.headers().all("Set-Cookie")).containsExactly("a=1", "b=2");
      assertThat(response.headers().first("X-Custom-Case")).contains("v");
      // names and values exactly as the backend sent them, known names included
      assertThat(response.headers().fields())
          .contains(
              new Header("content-type", "text/html; charset=utf-8"), new Header("etag", "\"x\""));
      assertThat(response.bodyText()).isEqualTo("ok");
    }
  }

  @Test
  @DisplayName("client-sent protocol and hop-by-hop headers never reach the backend; X-Forwarded-* do")
  void headerHygiene() throws Exception {
    try (RawHttpClient c = raw()) {
      c.send(
          "GET /x HTTP/1.1\r\nHost: public.example\r\nX-Inverting-Proxy-User-ID: mallory\r\n"
              + "x-inverting-proxy-backend-id: other\r\nConnection: keep-alive, X-Secret\r\n"
              + "X-Secret: hop\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic abc\r\n"
              + "TE: gzip\r\nX-Forwarded-For: 10.9.9.9\r\nX-Kept: yes\r\n\r\n");
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.status()).as(response.bodyText()).isEqualTo(200);
    }
    Headers headers = relay.backend.take().head().headers();
    for (String dropped :
        List.of(
            "X-Inverting-Proxy-User-ID",
            "X-Inverting-Proxy-Backend-ID",
            "Connection",
            "X-Secret",
            "Keep-Alive",
            "Proxy-Authorization",
            "TE")) {
      assertThat(headers.contains(dropped)).as(dropped).isFalse();
    }
    assertThat(headers.first("X-Kept")).contains("yes");
    assertThat(headers.first("X-Forwarded-For")).contains("10.9.9.9, 127.0.0.1");
    assertThat(headers.first("X-Forwarded-Proto")).contains("http");
    assertThat(headers.first("X-Forwarded-Host")).contains("public.example");
  }

  @Test
  @DisplayName("binary bodies are byte-exact both ways, with Content-Length")
  void binaryBodies() throws Exception {
    byte[] upload = randomBytes(3 * 1024 * 1024 + 17, 1);
    byte[] download = randomBytes(2 * 1024 * 1024 + 5, 2);
    relay.backend.respondWith(
        (request, out) -> {
          out.write(
              ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                      + download.length
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.ISO_8859_1));
          out.write(download);
        });
    Request request =
        new Request.Builder()
            .url(relay.url("/bin").toString())
            .post(RequestBody.create(upload, MediaType.get("application/octet-stream")))
            .build();
    try (Response response = client.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(200);
      assertThat(response.header("Content-Length")).isEqualTo(Integer.toString(download.length));
      assertThat(sha256(response.body().bytes())).isEqualTo(sha256(download));
    }
    Received received = relay.backend.take();
    assertThat(received.contentLength()).isEqualTo(upload.length);
    assertThat(sha256(received.body())).isEqualTo(sha256(upload));
  }

  @Test
  @DisplayName("chunked bodies both ways; response trailers reach the client")
  void chunkedBodiesAndTrailers() throws Exception {
    relay.backend.respondWith(
        (request, out) -> {
          out.write(
              ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Checksum\r\n"
                      + "Transfer-Encoding: chunked\r\n\r\n"
                      + "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\n\r\n")
                  .getBytes(StandardCharsets.ISO_8859_1));
        });
    try (RawHttpClient c = raw()) {
      c.send(
          "POST /chunks HTTP/1.1\r\nHost: public.example\r\nTE: trailers\r\n"
              + "Transfer-Encoding: chunked\r\n\r\n"
              + "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
      RawHttpClient.Response response = c.read("POST");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.bodyText()).isEqualTo("hello world");
      assertThat(response.contentLength()).isEqualTo(-1);
      assertThat(response.trailers().first("X-Checksum")).contains("abc123");
    }
    Received received = relay.backend.take();
    assertThat(received.contentLength()).isEqualTo(-1);
    assertThat(received.bodyText()).isEqualTo("abcdefg");
  }

  @ParameterizedTest
  @ValueSource(ints = {200, 204, 301, 304, 404, 500})
  @DisplayName("statuses are relayed exactly; 3xx not followed; no body where HTTP forbids one")
  void statuses(int status) throws Exception {
    boolean bodyless = status == 204 || status == 304;
    relay.backend.respondWith(
        (request, out) ->
            out.write(
                ("HTTP/1.1 " + status + " Whatever\r\n"
                        + (status == 301 ? "Location: /elsewhere\r\n" : "")
                        + (bodyless ? "ETag: \"v1\"\r\n\r\n" : "Content-Length: 4\r\n\r\nbody"))
                    .getBytes(StandardCharsets.ISO_8859_1)));
    try (RawHttpClient c = raw()) {
      c.send("GET /s HTTP/1.1\r\nHost: public.example\r\n\r\n");
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.status()).isEqualTo(status);
      if (bodyless) {
        assertThat(response.body()).isEmpty();
        assertThat(response.headers().contains("Transfer-Encoding")).isFalse();
      } else {
        assertThat(response.bodyText()).isEqualTo("body");
      }
      if (status == 301) {
        assertThat(response.headers().first("Location")).contains("/elsewhere");
      }
      // the connection is still in sync for the next request
      c.send("GET /next HTTP/1.1\r\nHost: public.example\r\n\r\n");
      assertThat(c.read("GET").status()).isEqualTo(status);
    }
    assertThat(relay.backend.take().head().target()).isEqualTo("/s");
  }

  @Test
  @DisplayName("200 concurrent requests through one agent are answered and matched to their clients")
  void concurrentRequests() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(200);
    OkHttpClient many =
        client.newBuilder().dispatcher(new okhttp3.Dispatcher()).build();
    many.dispatcher().setMaxRequests(256);
    many.dispatcher().setMaxRequestsPerHost(256);
    try {
      List<Future<String>> answers = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        int n = i;
        Callable<String> call =
            () -> {
              Request request =
                  new Request.Builder()
                      .url(relay.url("/c/" + n).toString())
                      .post(RequestBody.create("body-" + n, MediaType.get("text/plain")))
                      .build();
              try (Response response = many.newCall(request).execute()) {
                return response.code() + " " + response.body().string();
              }
            };
        answers.add(pool.submit(call));
      }
      for (int i = 0; i < 200; i++) {
        assertThat(answers.get(i).get(50, TimeUnit.SECONDS))
            .isEqualTo("200 POST /c/" + i + "\nbody-" + i);
      }
    } finally {
      pool.shutdownNow();
      many.connectionPool().evictAll();
    }
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
