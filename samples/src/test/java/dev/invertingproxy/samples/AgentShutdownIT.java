package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.ProxyEngine;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Stopping the packaged agent while a request is in flight: it finishes within {@code
 * --graceful-shutdown-timeout} (exit 0), or is cut after it (exit 1 and an {@code error:} line),
 * or a second signal cuts it at once (exit 1). The proxy and the backend run in this JVM, on
 * 127.0.0.1; the agent is a process of its own.
 */
class AgentShutdownIT {
  private static final String TOKEN = "shutdown-it-token-3b7e";
  private static final String BACKEND = "default";
  private static final Duration START = Duration.ofSeconds(30);

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  /** Counted down when the backend has received GET /slow. */
  private final CountDownLatch arrived = new CountDownLatch(1);
  /** GET /slow is answered when this is counted down or {@link #hold} has passed. */
  private final CountDownLatch release = new CountDownLatch(1);
  private volatile Duration hold = Duration.ofMinutes(2);
  private HttpServer backend;
  private ExecutorService backendThreads;
  private ProxyEngine engine;
  private ProxyServer proxy;

  @BeforeEach
  void start() throws Exception {
    backend = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
    backendThreads = Executors.newCachedThreadPool();
    backend.setExecutor(backendThreads);
    backend.createContext(
        "/slow",
        exchange -> {
          arrived.countDown();
          try {
            release.await(hold.toMillis(), TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          answer(exchange, "slow done");
        });
    backend.createContext("/quick", exchange -> answer(exchange, "quick"));
    backend.start();
    engine =
        ProxyEngine.builder()
            .storage("memory:")
            .backend(BACKEND)
            .agentAuthenticator(AgentAuthenticator.bearerTokens(Map.of(TOKEN, "agent")))
            .build();
    proxy = ProxyServer.start(engine, "127.0.0.1", 0);
  }

  private static void answer(HttpExchange exchange, String text) throws IOException {
    try (exchange) {
      byte[] body = text.getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @AfterEach
  void stop() throws Exception {
    release.countDown();
    engine.close(); // first: it ends the client requests a cut agent left waiting, so Jetty stops
    proxy.close();
    backend.stop(0);
    backendThreads.shutdownNow();
  }

  @Test
  void requestsStillInFlightAfterTheTimeoutAreCutWithExitCodeOne() throws Exception {
    try (JarProcess agent = startAgent("--graceful-shutdown-timeout", "1s")) {
      slowRequestInFlight();
      long started = System.nanoTime();
      int exit = agent.stop(Duration.ofSeconds(30));
      Duration took = Duration.ofNanos(System.nanoTime() - started);

      assertThat(exit).as(agent.transcript()).isEqualTo(1);
      assertThat(agent.stderr())
          .as(agent.transcript())
          .contains("Stopping ...\n")
          .contains("error: requests still in flight after --graceful-shutdown-timeout 1s were cut\n")
          .containsOnlyOnce("error:");
      assertThat(took).as(agent.transcript()).isLessThan(Duration.ofSeconds(15));
    }
  }

  @Test
  void zeroDoesNotWaitAndStillSaysRequestsWereCut() throws Exception {
    try (JarProcess agent = startAgent("--graceful-shutdown-timeout", "0")) {
      slowRequestInFlight();
      assertThat(agent.stop(Duration.ofSeconds(30))).as(agent.transcript()).isEqualTo(1);
      assertThat(agent.stderr())
          .as(agent.transcript())
          .contains("error: requests in flight were cut (--graceful-shutdown-timeout 0: no wait)\n")
          .containsOnlyOnce("error:");
    }
  }

  @Test
  void requestsThatFinishWithinTheTimeoutAreAnsweredWithExitCodeZero() throws Exception {
    hold = Duration.ofSeconds(2);
    try (JarProcess agent = startAgent()) { // the default, 30s
      CompletableFuture<HttpResponse<String>> slow = slowRequestInFlight();
      assertThat(agent.stop(Duration.ofSeconds(30))).as(agent.transcript()).isZero();
      HttpResponse<String> response = slow.get(10, TimeUnit.SECONDS);
      assertThat(response.statusCode()).as(agent.transcript()).isEqualTo(200);
      assertThat(response.body()).isEqualTo("slow done");
      assertThat(agent.stderr())
          .as(agent.transcript())
          .contains("Stopping ...")
          .doesNotContain("error")
          .doesNotContain("aborted");
    }
  }

  @Test
  void aSecondSignalStopsAtOnceWithExitCodeOne() throws Exception {
    try (JarProcess agent = startAgent("--graceful-shutdown-timeout", "2m")) {
      slowRequestInFlight();
      agent.terminate();
      agent.awaitStderr("Stopping ...", Duration.ofSeconds(10));
      Thread.sleep(300); // into the drain, which would take up to 2 minutes
      long started = System.nanoTime();
      agent.terminate();
      int exit = agent.awaitExit(Duration.ofSeconds(20));
      Duration took = Duration.ofNanos(System.nanoTime() - started);

      assertThat(exit).as(agent.transcript()).isEqualTo(1);
      assertThat(agent.stderr())
          .as(agent.transcript())
          .contains(
              "error: stopped at once by a second signal; requests still in flight were cut\n")
          .containsOnlyOnce("error:");
      assertThat(took).as(agent.transcript()).isLessThan(Duration.ofSeconds(5));
    }
  }

  /** Starts the agent for {@link #BACKEND} with {@code flags} and waits until it relays. */
  private JarProcess startAgent(String... flags) throws Exception {
    List<String> args =
        new ArrayList<>(
            List.of(
                "agent",
                "--proxy", proxy.url().toString(),
                "--backend", BACKEND,
                "--host", "127.0.0.1:" + backend.getAddress().getPort(),
                "--token", TOKEN));
    args.addAll(List.of(flags));
    JarProcess agent = JarProcess.start(args.toArray(String[]::new));
    try {
      agent.awaitLine("Agent started for backend " + BACKEND + ": .*", START);
      long deadline = System.nanoTime() + START.toNanos();
      while (true) {
        HttpResponse<String> quick = send(proxy.url().resolve("quick"));
        if (quick.statusCode() == 200) {
          assertThat(quick.body()).isEqualTo("quick");
          return agent;
        }
        if (System.nanoTime() - deadline > 0) {
          throw new AssertionError(
              "the proxy still answers " + quick.statusCode() + "\n" + agent.transcript());
        }
        Thread.sleep(50);
      }
    } catch (Exception | AssertionError e) {
      agent.close();
      throw e;
    }
  }

  /** Sends GET /slow through the proxy; returns once the backend holds it. */
  private CompletableFuture<HttpResponse<String>> slowRequestInFlight() throws Exception {
    CompletableFuture<HttpResponse<String>> response =
        http.sendAsync(
            HttpRequest.newBuilder(proxy.url().resolve("slow"))
                .timeout(Duration.ofSeconds(60))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    assertThat(arrived.await(20, TimeUnit.SECONDS)).as("the backend got GET /slow").isTrue();
    return response;
  }

  private HttpResponse<String> send(URI uri) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20)).GET().build(),
        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }
}
