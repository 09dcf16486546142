package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many kept-alive clients at once through proxy and agent: every request answered, no connection
 * dropped, whatever the races between a parked request's disconnect watch, the agent's answer and
 * the client's next request on the same connection.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConcurrencyIT {
  private static final int CLIENTS = 32;
  private static final int REQUESTS_EACH = 250;

  private Relay relay;
  private OkHttpClient client;

  @BeforeEach
  void start() throws Exception {
    relay = Relay.withAgent();
    client =
        new OkHttpClient.Builder()
            .connectionPool(new ConnectionPool(CLIENTS, 1, TimeUnit.MINUTES))
            .retryOnConnectionFailure(false) // a dropped connection must show
            .readTimeout(30, TimeUnit.SECONDS)
            .build();
    client.dispatcher().setMaxRequestsPerHost(CLIENTS);
  }

  @AfterEach
  void stop() throws Exception {
    client.dispatcher().executorService().shutdownNow();
    client.connectionPool().evictAll();
    relay.close();
  }

  @Test
  @DisplayName("32 kept-alive clients, 8,000 requests: every one answered by the backend, none dropped")
  void manyClientsNoneDropped() throws Exception {
    AtomicInteger ok = new AtomicInteger();
    ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int clientNo = c;
        done.add(
            threads.submit(
                () -> {
                  for (int i = 0; i < REQUESTS_EACH; i++) {
                    String target = "/c" + clientNo + "/r" + i;
                    Request request = new Request.Builder().url(relay.url(target).toString()).build();
                    try (Response response = client.newCall(request).execute()) {
                      String body = response.body().string();
                      if (response.code() == 200 && body.contains(target)) {
                        ok.incrementAndGet();
                      } else {
                        failures.add(target + ": " + response.code() + " " + body);
                      }
                    } catch (Exception e) {
                      failures.add(target + ": " + e);
                    }
                  }
                }));
      }
      for (Future<?> future : done) {
        future.get(110, TimeUnit.SECONDS);
      }
    } finally {
      threads.shutdownNow();
    }
    assertThat(failures).isEmpty();
    assertThat(ok.get()).isEqualTo(CLIENTS * REQUESTS_EACH);
  }
}
