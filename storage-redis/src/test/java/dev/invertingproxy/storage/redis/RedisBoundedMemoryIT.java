package dev.invertingproxy.storage.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invertingproxy.testkit.RedisProcess;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * 256 MiB each way through node A (the client's) and node C (the agent's) over one Redis, with
 * the whole JVM — client, both nodes, agent, backend — in a 128 MiB heap (see the pom), and
 * Redis's own memory sampled throughout. Prints the figures.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class RedisBoundedMemoryIT {
  private static final long SIZE = 256L * 1024 * 1024;
  private static final String PREFIX = "mem-" + UUID.randomUUID();

  @Test
  void twoHundredFiftySixMebibytesEachWayStayBoundedOnBothNodesAndInRedis() throws Exception {
    assertThat(Runtime.getRuntime().maxMemory()).isLessThanOrEqualTo(160L * 1024 * 1024);
    String expected = HexFormat.of().formatHex(generatedDigest(SIZE));
    try (RedisProcess redis = RedisProcess.start();
        TestBackend backend = new TestBackend();
        ProxyNode a = new ProxyNode(redis.uri(), PREFIX);
        ProxyNode c = new ProxyNode(redis.uri(), PREFIX)) {
      var agent = c.agent(backend.uri());
      await().atMost(Duration.ofSeconds(10)).until(() -> a.storage.registry().lastSeen(ProxyNode.BACKEND_ID).isPresent());
      OkHttpClient http = new OkHttpClient.Builder().readTimeout(Duration.ofSeconds(60)).build();
      long baseline = redis.usedMemory();
      AtomicLong redisPeak = new AtomicLong(baseline);
      AtomicLong heapPeak = new AtomicLong();
      Thread sampler =
          new Thread(
              () -> {
                while (!Thread.currentThread().isInterrupted()) {
                  try {
                    redisPeak.accumulateAndGet(redis.usedMemory(), Math::max);
                    heapPeak.accumulateAndGet(
                        Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory(), Math::max);
                    Thread.sleep(50);
                  } catch (IOException | InterruptedException e) {
                    return;
                  }
                }
              });
      sampler.setDaemon(true);
      sampler.start();
      try {
        long start = System.nanoTime();
        Request upload =
            new Request.Builder()
                .url(a.uri.resolve("sink").toString())
                .post(generatedBody(SIZE))
                .build();
        try (Response response = http.newCall(upload).execute()) {
          assertThat(response.code()).isEqualTo(200);
          assertThat(response.body().string()).isEqualTo(SIZE + " " + expected);
        }
        double uploadSeconds = (System.nanoTime() - start) / 1e9;

        start = System.nanoTime();
        Request download = new Request.Builder().url(a.uri.resolve("source/" + SIZE).toString()).build();
        try (Response response = http.newCall(download).execute()) {
          assertThat(response.code()).isEqualTo(200);
          MessageDigest sha = TestBackend.sha256();
          long length = 0;
          byte[] buffer = new byte[64 * 1024];
          InputStream in = response.body().byteStream();
          int n;
          while ((n = in.read(buffer)) > 0) {
            sha.update(buffer, 0, n);
            length += n;
          }
          assertThat(length).isEqualTo(SIZE);
          assertThat(HexFormat.of().formatHex(sha.digest())).isEqualTo(expected);
        }
        double downloadSeconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(
            "[redis bounded memory] 256 MiB via node A (client) and node C (agent): upload %.2f s,"
                + " download %.2f s; heap high-water mark %d MiB of %d MiB; Redis used_memory"
                + " baseline %d KiB, peak %d KiB%n",
            uploadSeconds,
            downloadSeconds,
            heapPeak.get() >> 20,
            Runtime.getRuntime().maxMemory() >> 20,
            baseline >> 10,
            redisPeak.get() >> 10);
      } finally {
        sampler.interrupt();
        agent.close();
        http.dispatcher().executorService().shutdown();
      }
      // Bodies cross Redis a window at a time (4 chunks of 64 KiB per direction).
      assertThat(redisPeak.get() - baseline).isLessThan(16L * 1024 * 1024);
    }
  }

  private static RequestBody generatedBody(long size) {
    return new RequestBody() {
      @Override
      public MediaType contentType() {
        return MediaType.get("application/octet-stream");
      }

      @Override
      public long contentLength() {
        return size;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        byte[] buffer = new byte[64 * 1024];
        for (long sent = 0; sent < size; ) {
          int n = (int) Math.min(buffer.length, size - sent);
          for (int i = 0; i < n; i++) {
            buffer[i] = TestBackend.generated(sent + i);
          }
          sink.write(buffer, 0, n);
          sent += n;
        }
      }
    };
  }

  private static byte[] generatedDigest(long size) {
    MessageDigest sha = TestBackend.sha256();
    byte[] buffer = new byte[64 * 1024];
    for (long done = 0; done < size; ) {
      int n = (int) Math.min(buffer.length, size - done);
      for (int i = 0; i < n; i++) {
        buffer[i] = TestBackend.generated(done + i);
      }
      sha.update(buffer, 0, n);
      done += n;
    }
    return sha.digest();
  }
}
