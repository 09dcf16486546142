package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okio.BufferedSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Flush-through: every part the backend flushes reaches the client before the backend sends the
 * next. The backend waits for the test to see each part, so a proxy or agent that buffers
 * deadlocks and the test fails by its time-out; nothing here measures time.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StreamingIT {
  private Relay relay;
  private OkHttpClient client;

  @BeforeEach
  void start() throws Exception {
    relay = Relay.withAgent();
    client = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
  }

  @AfterEach
  void stop() throws Exception {
    client.dispatcher().executorService().shutdownNow();
    client.connectionPool().evictAll();
    relay.close();
  }

  private static void write(OutputStream out, String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  private static void await(CountDownLatch latch) throws IOException {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IOException("the client never saw the previous part");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  private static String chunk(String data) {
    return Integer.toHexString(data.length()) + "\r\n" + data + "\r\n";
  }

  @Test
  @DisplayName("server-sent events: the head and each event arrive before the backend goes on")
  void serverSentEvents() throws Exception {
    CountDownLatch sawHead = new CountDownLatch(1);
    CountDownLatch sawFirst = new CountDownLatch(1);
    CountDownLatch sawSecond = new CountDownLatch(1);
    relay.backend.respondWith(
        (request, out) -> {
          write(
              out,
              "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                  + "Transfer-Encoding: chunked\r\n\r\n");
          await(sawHead);
          write(out, chunk("data: one\n\n"));
          await(sawFirst);
          write(out, chunk("data: two\n\n"));
          await(sawSecond);
          write(out, "0\r\n\r\n");
        });
    try (Response response =
        client.newCall(new Request.Builder().url(relay.url("/events").toString()).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
      assertThat(response.header("Content-Type")).isEqualTo("text/event-stream");
      sawHead.countDown();
      BufferedSource events = response.body().source();
      assertThat(events.readUtf8LineStrict()).isEqualTo("data: one");
      assertThat(events.readUtf8LineStrict()).isEmpty();
      sawFirst.countDown();
      assertThat(events.readUtf8LineStrict()).isEqualTo("data: two");
      assertThat(events.readUtf8LineStrict()).isEmpty();
      sawSecond.countDown();
      assertThat(events.exhausted()).isTrue();
    }
  }

  @Test
  @DisplayName("a Content-Length response streams too: each flushed part arrives before the next")
  void lengthDelimitedStream() throws Exception {
    CountDownLatch sawFirst = new CountDownLatch(1);
    relay.backend.respondWith(
        (request, out) -> {
          write(out, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst");
          await(sawFirst);
          write(out, "-last");
        });
    try (Response response =
        client.newCall(new Request.Builder().url(relay.url("/parts").toString()).build()).execute()) {
      BufferedSource body = response.body().source();
      assertThat(body.readUtf8(5)).isEqualTo("first");
      sawFirst.countDown();
      assertThat(body.readUtf8()).isEqualTo("-last");
      assertThat(response.header("Content-Length")).isEqualTo("10");
    }
  }
}
