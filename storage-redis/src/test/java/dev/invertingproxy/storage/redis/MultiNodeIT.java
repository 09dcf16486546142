package dev.invertingproxy.storage.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invertingproxy.core.DefaultAgentLoop;
import dev.invertingproxy.testkit.RawHttpClient;
import dev.invertingproxy.testkit.RedisProcess;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Three proxy nodes (embedded Jetty each) on one real Redis: clients on some nodes, agents on
 * others, all on loopback.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class MultiNodeIT {
  private static final MediaType BYTES = MediaType.get("application/octet-stream");
  private static RedisProcess redis;

  private final String prefix = "it-" + UUID.randomUUID();
  private final List<AutoCloseable> closing = new ArrayList<>();
  private TestBackend backend;
  private OkHttpClient http;

  @BeforeAll
  static void startRedis() throws IOException {
    redis = RedisProcess.start();
  }

  @AfterAll
  static void stopRedis() {
    redis.close();
  }

  @BeforeEach
  void setUp() throws Exception {
    backend = new TestBackend();
    http =
        new OkHttpClient.Builder()
            .readTimeout(Duration.ofSeconds(60))
            .retryOnConnectionFailure(false)
            .build();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
    backend.close();
    http.dispatcher().executorService().shutdownNow();
    http.connectionPool().evictAll();
  }

  private ProxyNode node() throws Exception {
    ProxyNode node = new ProxyNode(redis.uri(), prefix);
    closing.add(node);
    return node;
  }

  private DefaultAgentLoop agent(ProxyNode node) {
    DefaultAgentLoop agent = node.agent(backend.uri());
    closing.add(agent);
    await().atMost(Duration.ofSeconds(10)).until(() -> node.storage.registry().lastSeen(ProxyNode.BACKEND_ID).isPresent());
    return agent;
  }

  /**
   * Waits (bounded) until {@code node} answers 503 for lack of an agent. A request it parks
   * meanwhile (it still counted an agent) is given up after half a second and asked again.
   */
  private void awaitNoAgent(ProxyNode node, String path) {
    OkHttpClient impatient = http.newBuilder().readTimeout(Duration.ofMillis(500)).build();
    await()
        .atMost(Duration.ofSeconds(5))
        .pollInterval(Duration.ofMillis(50))
        .ignoreException(java.net.SocketTimeoutException.class)
        .until(
            () -> {
              Request request = new Request.Builder().url(node.uri.resolve(path).toString()).build();
              try (Response response = impatient.newCall(request).execute()) {
                return response.code() == 503;
              }
            });
  }

  private int status(ProxyNode entry, String path) throws IOException {
    try (Response response =
        http.newCall(new Request.Builder().url(entry.uri.resolve(path).toString()).build()).execute()) {
      return response.code();
    }
  }

  @Test
  void anAgentThatStopsIsGoneOnEveryNodeWithinASecond() throws Exception {
    ProxyNode a = node();
    ProxyNode b = node();
    DefaultAgentLoop first = agent(b);
    DefaultAgentLoop second = agent(b);
    await().atMost(Duration.ofSeconds(10)).until(second::isConnected);
    assertThat(status(a, "echo/before")).isEqualTo(200);
    first.close(Duration.ofSeconds(2));
    // The other agent still serves, on both nodes.
    for (int i = 0; i < 5; i++) {
      assertThat(status(a, "echo/one-left-" + i)).isEqualTo(200);
      assertThat(status(b, "echo/one-left-" + i)).isEqualTo(200);
    }
    long stopped = System.nanoTime();
    second.close(Duration.ofSeconds(2));
    // The node it polled knows at once; the other within its presence cache's second (a request
    // there before that is parked: the impatient client gives up on it and asks again).
    assertThat(status(b, "echo/gone")).isEqualTo(503);
    awaitNoAgent(a, "echo/gone");
    assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void aGoodbyeOnOneNodeEndsTheAgentsPollsOnAnother() throws Exception {
    ProxyNode a = node();
    ProxyNode b = node();
    // An agent (played by hand) whose next poll is open on B, and whose goodbye reaches A (a load
    // balancer may send them anywhere), before B noticed anything of its leaving.
    Request poll =
        new Request.Builder()
            .url(b.uri.resolve("agent/next").toString())
            .header("Authorization", "Bearer " + ProxyNode.AGENT_TOKEN)
            .header("X-Inverting-Proxy-Backend-ID", ProxyNode.BACKEND_ID)
            .header("X-Inverting-Proxy-Agent-ID", "hand-played-1")
            .build();
    okhttp3.Call open = http.newCall(poll);
    java.util.concurrent.CompletableFuture<Integer> polled =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              try (Response response = open.execute()) {
                return response.code();
              } catch (IOException e) {
                return -1;
              }
            });
    await().atMost(Duration.ofSeconds(10)).until(() -> b.storage.registry().lastSeen(ProxyNode.BACKEND_ID).isPresent());
    Request leave =
        new Request.Builder()
            .url(a.uri.resolve("agent/leave").toString())
            .post(RequestBody.create(new byte[0]))
            .header("Authorization", "Bearer " + ProxyNode.AGENT_TOKEN)
            .header("X-Inverting-Proxy-Backend-ID", ProxyNode.BACKEND_ID)
            .header("X-Inverting-Proxy-Agent-ID", "hand-played-1")
            .build();
    try (Response response = http.newCall(leave).execute()) {
      assertThat(response.code()).isEqualTo(204);
    }
    // B hears it through Redis: the poll it holds is answered empty at once (never handed a
    // request), and a client there gets 503 (not a request parked for an agent that is gone).
    assertThat(polled.get(10, TimeUnit.SECONDS)).isEqualTo(204);
    awaitNoAgent(b, "echo/after");
    // A poll of that agent ID that B takes now (one it sent before it closed) is refused.
    try (Response late = http.newCall(poll).execute()) {
      assertThat(late.code()).isEqualTo(403);
      assertThat(late.body().string()).contains("said goodbye");
    }
  }

  @Test
  void fiveHundredRequestsSpreadOverTwoNodesAreServedByAnAgentOnAThird() throws Exception {
    ProxyNode a = node();
    ProxyNode b = node();
    ProxyNode c = node();
    agent(c);
    ExecutorService clients = Executors.newFixedThreadPool(16);
    List<Future<?>> results = new ArrayList<>();
    AtomicInteger large = new AtomicInteger();
    try {
      for (int i = 0; i < 500; i++) {
        int n = i;
        results.add(
            clients.submit(
                () -> {
                  Random random = new Random(n);
                  // one in ten up to 8 MiB, the rest up to 64 KiB
                  int size =
                      n % 10 == 0 ? random.nextInt(8 * 1024 * 1024 + 1) : random.nextInt(64 * 1024 + 1);
                  if (size > 64 * 1024) {
                    large.incrementAndGet();
                  }
                  byte[] body = new byte[size];
                  random.nextBytes(body);
                  ProxyNode entry = n % 2 == 0 ? a : b;
                  Request request =
                      new Request.Builder()
                          .url(entry.uri.resolve("echo/" + n + "?q=%2F").toString())
                          .post(RequestBody.create(body, BYTES))
                          .build();
                  try (Response response = http.newCall(request).execute()) {
                    assertThat(response.code()).as("request %d", n).isEqualTo(200);
                    assertThat(response.header("X-Path")).isEqualTo("/echo/" + n);
                    assertThat(response.body().bytes()).as("request %d", n).isEqualTo(body);
                  }
                  return null;
                }));
      }
      for (Future<?> result : results) {
        result.get(150, TimeUnit.SECONDS);
      }
    } finally {
      clients.shutdownNow();
    }
    assertThat(large.get()).isGreaterThan(10);
    // Nothing is left behind: no request held by a node, no body in Redis.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              assertThat(a.storage.heldRequests() + b.storage.heldRequests()).isZero();
              assertThat(redis.command("EVAL \"return #redis.call('KEYS', ARGV[1])\" 0 " + prefix + ":?b:*"))
                  .isEqualTo(":0");
              assertThat(a.storage.watchedKeys()).isLessThanOrEqualTo(3); // queue, notices
            });
  }

  @Test
  void twoAgentsPollingDifferentNodesServeEachRequestExactlyOnce() throws Exception {
    ProxyNode a = node();
    ProxyNode b = node();
    ProxyNode c = node();
    agent(b);
    agent(c);
    ExecutorService clients = Executors.newFixedThreadPool(16);
    List<Future<Integer>> results = new ArrayList<>();
    try {
      for (int i = 0; i < 300; i++) {
        int n = i;
        results.add(
            clients.submit(
                () -> {
                  Request request =
                      new Request.Builder()
                          .url(a.uri.resolve("count/" + n).toString())
                          .post(RequestBody.create(new byte[] {1, 2, 3}, BYTES))
                          .build();
                  try (Response response = http.newCall(request).execute()) {
                    return response.code();
                  }
                }));
      }
      for (Future<Integer> result : results) {
        assertThat(result.get(120, TimeUnit.SECONDS)).isEqualTo(200);
      }
    } finally {
      clients.shutdownNow();
    }
    assertThat(backend.calls).hasSize(300);
    assertThat(backend.calls.values()).allSatisfy(count -> assertThat(count.get()).isEqualTo(1));
  }

  @Test
  void whileRedisIsDownClientsGet503AndAfterItsRestartEverythingWorksAgain() throws Exception {
    ProxyNode a = node();
    ProxyNode c = node();
    agent(c);
    assertThat(echo(a, "before")).isEqualTo(200);

    redis.stop();
    try {
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                try (Response response = http.newCall(post(a, "down")).execute()) {
                  assertThat(response.code()).isEqualTo(503);
                  assertThat(response.body().string()).contains("Redis");
                }
              });
    } finally {
      redis.restart(); // empty: like a Redis that lost its data
    }
    // The nodes reconnect by themselves; the agent's next poll marks it live again.
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> echo(a, "after") == 200);
    for (int i = 0; i < 50; i++) {
      assertThat(echo(i % 2 == 0 ? a : c, "again-" + i)).isEqualTo(200);
    }
  }

  @Test
  void aMalformedChunkedBodyOnOneNodeIs400WhileAnAgentOnAnotherReadsIt() throws Exception {
    ProxyNode a = node();
    ProxyNode c = node();
    agent(c);
    // The body streams from node a (the client's) through Redis to the agent's read on node c;
    // Jetty on node a refuses the chunk size; the engine there answers, the read on c is cut.
    try (RawHttpClient client = new RawHttpClient(a.uri.getPort())) {
      client.send(
          "POST /count/bad HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              + "3\r\nabc\r\nffffffffffffffffff\r\n");
      RawHttpClient.Response response = client.read("POST");
      assertThat(response.status()).isEqualTo(400);
      assertThat(response.bodyText()).startsWith("malformed request body");
    }
    assertThat(echo(a, "after")).isEqualTo(200);
    assertThat(backend.calls).doesNotContainKey("bad"); // counted only once read whole
  }

  private Request post(ProxyNode node, String name) {
    return new Request.Builder()
        .url(node.uri.resolve("echo/" + name).toString())
        .post(RequestBody.create(name.getBytes(), BYTES))
        .build();
  }

  private int echo(ProxyNode node, String name) throws IOException {
    try (Response response = http.newCall(post(node, name)).execute()) {
      String body = response.body().string();
      if (response.code() == 200) {
        assertThat(body).isEqualTo(name);
      } else {
        System.err.println("echo " + name + " via " + node.uri + ": " + response.code() + " " + body);
      }
      return response.code();
    }
  }

}
