package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
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

  @Test
  @DisplayName("a client that leaves mid-stream: the agent aborts the backend's call promptly")
  void clientLeavesMidStream() throws Exception {
    CountDownLatch backendCut = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
    relay.backend.respondWith(
        (request, out) -> {
          write(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
          try {
            // An endless stream: one event every 50 ms until the connection is cut.
            for (int i = 0; i < 2_000; i++) {
              write(out, chunk("data: " + i + "\n\n"));
              sent.incrementAndGet();
              Thread.sleep(50);
            }
          } catch (IOException cut) {
            backendCut.countDown();
            throw cut;
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    try (dev.invertingproxy.testkit.RawHttpClient c =
        new dev.invertingproxy.testkit.RawHttpClient(relay.port())) {
      c.send("GET /endless HTTP/1.1\r\nHost: public.example\r\n\r\n");
      byte[] some = new byte[64];
      assertThat(c.socket.getInputStream().read(some)).isPositive();
    } // the client leaves
    // The backend notices within a few events (the stream would otherwise run for 100 s).
    assertThat(backendCut.await(20, TimeUnit.SECONDS)).isTrue();
    assertThat(sent.get()).isLessThan(2_000);
  }

  @Test
  @DisplayName("a stream longer than the idle time-out, never pausing longer than it, is never cut")
  void longStreamIsNotCut() throws Exception {
    relay.close();
    relay = Relay.withoutAgent(engine -> {});
    relay.startAgent(relay.backend.uri(), agent -> agent.backendIdleTimeout(Duration.ofMillis(500)));
    relay.backend.respondWith(
        (request, out) -> {
          write(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
          try {
            for (int i = 0; i < 15; i++) { // 3 s in all: six times the idle time-out
              Thread.sleep(200);
              write(out, chunk("tick " + i + "\n"));
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          write(out, "0\r\n\r\n");
        });
    try (Response response =
        client.newCall(new Request.Builder().url(relay.url("/ticks").toString()).build()).execute()) {
      String body = response.body().string();
      assertThat(body).startsWith("tick 0\n").endsWith("tick 14\n");
    }
  }

  @Test
  @DisplayName("a backend silent longer than the agent's idle time-out: 504 before the head, cut after")
  void silentBackend() throws Exception {
    relay.close();
    relay = Relay.withoutAgent(engine -> {});
    relay.startAgent(relay.backend.uri(), agent -> agent.backendIdleTimeout(Duration.ofMillis(500)));
    relay.backend.respondWith(
        (request, out) -> {
          try {
            if (request.head().target().equals("/mid")) {
              write(out, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart");
            }
            Thread.sleep(3_000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    try (Response response =
        client.newCall(new Request.Builder().url(relay.url("/head").toString()).build()).execute()) {
      assertThat(response.code()).isEqualTo(504);
      assertThat(response.body().string()).contains("did not answer within the agent");
    }
    try (dev.invertingproxy.testkit.RawHttpClient c =
        new dev.invertingproxy.testkit.RawHttpClient(relay.port())) {
      c.send("GET /mid HTTP/1.1\r\nHost: public.example\r\n\r\n");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.read("GET"))
          .isInstanceOf(java.io.EOFException.class);
    }
  }

  @Test
  @DisplayName("the optional total limit, when set, cuts a stream that outlasts it")
  void totalLimitCutsStream() throws Exception {
    relay.close();
    relay = Relay.withoutAgent(engine -> {});
    relay.startAgent(relay.backend.uri(), agent -> agent.backendTotalTimeout(Duration.ofSeconds(1)));
    relay.backend.respondWith(
        (request, out) -> {
          write(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
          try {
            for (int i = 0; i < 30; i++) { // 3 s: longer than the 1 s limit
              write(out, chunk("tick " + i + "\n"));
              Thread.sleep(100);
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          write(out, "0\r\n\r\n");
        });
    try (dev.invertingproxy.testkit.RawHttpClient c =
        new dev.invertingproxy.testkit.RawHttpClient(relay.port())) {
      c.send("GET /long HTTP/1.1\r\nHost: public.example\r\n\r\n");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.read("GET"))
          .isInstanceOf(java.io.EOFException.class);
    }
  }

  @Test
  @DisplayName("a client that leaves while the backend is still working: the backend call is aborted")
  void clientLeavesBeforeTheHead() throws Exception {
    CountDownLatch working = new CountDownLatch(1);
    CountDownLatch aborted = new CountDownLatch(1);
    relay.backend.respondWithConnection(
        (request, in, out) -> {
          working.countDown();
          // Working on it, silently, for up to a minute; a read returns -1 when the agent
          // closes the connection.
          if (in.read() < 0) {
            aborted.countDown();
          }
        });
    try (dev.invertingproxy.testkit.RawHttpClient c =
        new dev.invertingproxy.testkit.RawHttpClient(relay.port())) {
      c.send("GET /slow HTTP/1.1\r\nHost: public.example\r\n\r\n");
      assertThat(working.await(10, TimeUnit.SECONDS)).isTrue();
    } // the client leaves
    assertThat(aborted.await(10, TimeUnit.SECONDS))
        .as("the backend saw its connection closed while still working")
        .isTrue();
  }
}
