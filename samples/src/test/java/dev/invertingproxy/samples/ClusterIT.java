package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.invertingproxy.testkit.RedisProcess;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Three {@code proxy} processes of the packaged jar on one real Redis, one {@code agent} process
 * polling the third; clients on the first two. The first is killed (SIGKILL) during traffic: only
 * its own clients fail, the second's keep being served, nothing waits for a restart.
 */
class ClusterIT {
  private static final String TOKEN = "cluster-it-token-77a1";
  private static final Duration START = Duration.ofSeconds(30);

  private record Outcome(String node, long sentAtMillis, int status, String error) {}

  @Test
  void killingOneNodeFailsOnlyItsOwnClients() throws Exception {
    HttpServer backend = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
    ExecutorService backendThreads = Executors.newCachedThreadPool();
    backend.setExecutor(backendThreads);
    backend.createContext(
        "/",
        exchange -> {
          try (exchange) {
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
              body = in.readAllBytes();
            }
            try {
              Thread.sleep(50); // keep requests in flight while a node dies
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(body);
            }
          }
        });
    backend.start();
    HttpClient http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .version(HttpClient.Version.HTTP_1_1)
            .build();
    ExecutorService clients = Executors.newFixedThreadPool(8);
    try (RedisProcess redis = RedisProcess.start();
        JarProcess a = proxy(redis);
        JarProcess b = proxy(redis);
        JarProcess c = proxy(redis)) {
      URI nodeA = listening(a);
      URI nodeB = listening(b);
      URI nodeC = listening(c);
      try (JarProcess agent =
          JarProcess.start(
              "agent",
              "--proxy", nodeC.toString(),
              "--backend", "default",
              "--host", "127.0.0.1:" + backend.getAddress().getPort(),
              "--token", TOKEN)) {
        agent.awaitLine("Agent connected to .*", START);

        ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
        AtomicBoolean running = new AtomicBoolean(true);
        List<Future<?>> loops = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          String name = i % 2 == 0 ? "A" : "B";
          URI node = i % 2 == 0 ? nodeA : nodeB;
          int client = i;
          loops.add(
              clients.submit(
                  () -> {
                    for (int n = 0; running.get(); n++) {
                      String payload = "client " + client + " request " + n;
                      long sent = System.currentTimeMillis();
                      try {
                        HttpResponse<String> response =
                            http.send(
                                HttpRequest.newBuilder(node.resolve("echo/" + client + "/" + n))
                                    .timeout(Duration.ofSeconds(30))
                                    .POST(HttpRequest.BodyPublishers.ofString(payload))
                                    .build(),
                                HttpResponse.BodyHandlers.ofString());
                        outcomes.add(
                            new Outcome(
                                name,
                                sent,
                                response.statusCode(),
                                payload.equals(response.body()) ? null : "body: " + response.body()));
                      } catch (IOException e) {
                        outcomes.add(new Outcome(name, sent, -1, e.toString()));
                        if (name.equals("A")) {
                          Thread.sleep(20); // the node is gone: do not spin
                        }
                      }
                    }
                    return null;
                  }));
        }
        Thread.sleep(3000);
        long killedAt = System.currentTimeMillis();
        a.kill();
        Thread.sleep(4000);
        running.set(false);
        for (Future<?> loop : loops) {
          loop.get(60, TimeUnit.SECONDS);
        }

        List<Outcome> onB = outcomes.stream().filter(o -> o.node().equals("B")).toList();
        List<Outcome> onA = outcomes.stream().filter(o -> o.node().equals("A")).toList();
        System.out.printf(
            "[cluster] node A killed after 3 s: A %d answered, %d failed; B %d answered, %d failed%n",
            onA.stream().filter(o -> o.status() == 200).count(),
            onA.stream().filter(o -> o.status() != 200).count(),
            onB.stream().filter(o -> o.status() == 200).count(),
            onB.stream().filter(o -> o.status() != 200).count());
        assertThat(onB).as("B's clients were served throughout").hasSizeGreaterThan(50);
        assertThat(onB)
            .as(c.transcript() + agent.transcript())
            .allSatisfy(
                o -> {
                  assertThat(o.status()).as(o.toString()).isEqualTo(200);
                  assertThat(o.error()).as(o.toString()).isNull();
                });
        assertThat(onB.stream().filter(o -> o.sentAtMillis() > killedAt + 500)).hasSizeGreaterThan(10);
        assertThat(onA.stream().filter(o -> o.sentAtMillis() < killedAt - 500))
            .isNotEmpty()
            .allSatisfy(o -> assertThat(o.status()).as(o.toString()).isEqualTo(200));
        assertThat(onA.stream().filter(o -> o.sentAtMillis() > killedAt))
            .isNotEmpty()
            .allSatisfy(o -> assertThat(o.status()).as(o.toString()).isEqualTo(-1));

        // The agent and the surviving nodes go on: a new client on B is served.
        HttpResponse<String> after =
            http.send(
                HttpRequest.newBuilder(nodeB.resolve("echo/after"))
                    .POST(HttpRequest.BodyPublishers.ofString("after the crash"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(after.statusCode()).isEqualTo(200);
        assertThat(after.body()).isEqualTo("after the crash");
      }
    } finally {
      clients.shutdownNow();
      backend.stop(0);
      backendThreads.shutdownNow();
    }
  }

  private static JarProcess proxy(RedisProcess redis) throws IOException {
    return JarProcess.start(
        "proxy", "--port", "0", "--bind", "127.0.0.1", "--storage", redis.uri(), "--agent-token", TOKEN);
  }

  private static URI listening(JarProcess proxy) throws InterruptedException {
    return URI.create(proxy.awaitLine("Listening on (http://127\\.0\\.0\\.1:\\d+/)", START).group(1));
  }
}
