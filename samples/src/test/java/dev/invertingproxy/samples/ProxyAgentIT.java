package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar's {@code proxy} and {@code agent} as two processes, relaying to a backend in
 * this JVM; everything on 127.0.0.1.
 */
class ProxyAgentIT {
  private static final String TOKEN = "it-agent-token-5f1c";
  private static final Duration START = Duration.ofSeconds(30);

  private final HttpClient http =
      HttpClient.newBuilder()
          .connectTimeout(Duration.ofSeconds(5))
          .followRedirects(HttpClient.Redirect.NEVER)
          .build();
  private final List<String> seenByBackend = new CopyOnWriteArrayList<>();
  private HttpServer backend;
  private ExecutorService backendThreads;

  /** Echoes method and raw target in headers; a POST's body comes back as it was sent. */
  @BeforeEach
  void startBackend() throws Exception {
    backend = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
    backendThreads = Executors.newCachedThreadPool();
    backend.setExecutor(backendThreads);
    backend.createContext(
        "/",
        exchange -> {
          try (exchange) {
            String target = exchange.getRequestURI().toString();
            seenByBackend.add(exchange.getRequestMethod() + " " + target);
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
              body = in.readAllBytes();
            }
            if (!exchange.getRequestMethod().equals("POST")) {
              body = ("hello from the backend, " + target).getBytes(StandardCharsets.UTF_8);
            }
            exchange.getResponseHeaders().add("X-Saw-Method", exchange.getRequestMethod());
            exchange.getResponseHeaders().add("X-Saw-Target", target);
            String type = exchange.getRequestHeaders().getFirst("Content-Type");
            exchange.getResponseHeaders().add("Content-Type", type != null ? type : "text/plain");
            exchange.sendResponseHeaders(201, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(body);
            }
          }
        });
    backend.start();
  }

  @AfterEach
  void stopBackend() {
    backend.stop(0);
    backendThreads.shutdownNow();
  }

  @Test
  void relaysThroughTheProxyAndAgentProcesses() throws Exception {
    try (JarProcess proxy =
            JarProcess.start(
                "proxy", "--port", "0", "--bind", "127.0.0.1", "--agent-token", TOKEN, "--access-log")) {
      Matcher listening = proxy.awaitLine("Listening on (http://127\\.0\\.0\\.1:(\\d+)/)", START);
      URI proxyUrl = URI.create(listening.group(1));

      try (JarProcess agent =
          JarProcess.start(
              "agent",
              "--proxy", proxyUrl.toString(),
              "--backend", "default",
              "--host", "127.0.0.1:" + backend.getAddress().getPort(),
              "--token", TOKEN)) {
        agent.awaitLine("Agent started for backend default: .*", START);
        awaitRelay(proxyUrl.resolve("ready"), proxy, agent);

        HttpResponse<String> get = send(HttpRequest.newBuilder(proxyUrl.resolve("hello/a%2Fb?q=1&r=%20")).GET());
        assertThat(get.statusCode()).as(agent.transcript()).isEqualTo(201);
        assertThat(get.body()).isEqualTo("hello from the backend, /hello/a%2Fb?q=1&r=%20");
        assertThat(get.headers().firstValue("X-Saw-Method")).contains("GET");

        String payload = "name=inverting proxy&bytes=" + "x".repeat(100_000) + "\u00e9";
        HttpResponse<String> post =
            send(
                HttpRequest.newBuilder(proxyUrl.resolve("submit"))
                    .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
                    .POST(HttpRequest.BodyPublishers.ofString(payload, StandardCharsets.UTF_8)));
        assertThat(post.statusCode()).isEqualTo(201);
        assertThat(post.headers().firstValue("X-Saw-Method")).contains("POST");
        assertThat(post.headers().firstValue("X-Saw-Target")).contains("/submit");
        assertThat(post.body()).isEqualTo(payload);

        // The first poll returned with work, so the agent now reports itself connected.
        agent.awaitLine("Agent connected to " + proxyUrl + " for backend default", START);

        // Agent calls need the token; paths under /agent/ never reach the backend.
        HttpResponse<String> anonymous =
            send(
                HttpRequest.newBuilder(proxyUrl.resolve("agent/pending"))
                    .header("X-Inverting-Proxy-Backend-ID", "default")
                    .GET());
        assertThat(anonymous.statusCode()).isEqualTo(401);
        HttpResponse<String> wrongToken =
            send(
                HttpRequest.newBuilder(proxyUrl.resolve("agent/pending"))
                    .header("X-Inverting-Proxy-Backend-ID", "default")
                    .header("Authorization", "Bearer not-" + TOKEN)
                    .GET());
        assertThat(wrongToken.statusCode()).isEqualTo(401);
        HttpResponse<String> reserved = send(HttpRequest.newBuilder(proxyUrl.resolve("agent/else")).GET());
        assertThat(reserved.statusCode()).isBetween(400, 499);
        assertThat(seenByBackend).noneMatch(request -> request.contains("/agent"));

        // SIGTERM stops both gracefully, agent first, each with exit code 0 (what systemd expects)
        assertThat(agent.stop(Duration.ofSeconds(40))).as(agent.transcript()).isZero();
        assertThat(proxy.stop(Duration.ofSeconds(20))).as(proxy.transcript()).isZero();
        for (JarProcess stopped : new JarProcess[] {agent, proxy}) {
          assertThat(stopped.stderr())
              .as(stopped.transcript())
              .contains("Stopping ...")
              .doesNotContain("could not stop")
              .doesNotContain("error")
              .doesNotContain("Exception")
              .doesNotContain("SEVERE");
        }
        assertThat(agent.stderr()).as(agent.transcript()).doesNotContain("WARNING");
        // The proxy's log: the agent coming and going, and the two refused calls above in one
        // line (refusals from one address are logged at most once a minute).
        String proxyLog = proxy.stderr();
        assertThat(proxyLog)
            .as(proxy.transcript())
            .containsOnlyOnce("WARNING")
            .contains("agent call refused (401) from 127.0.0.1, backend default")
            .contains("agent connected: backend default, identity token-1, address 127.0.0.1")
            .contains("agent disconnected: backend default, identity token-1")
            .contains("(it stopped cleanly)")
            // --access-log: one line per request, with the backend, status and bytes
            .containsPattern(
                "\\S+Z 127\\.0\\.0\\.1 GET /hello/a%2Fb\\?q=1&r=%20 default 201 "
                    + "hello from the backend, /hello/a%2Fb?q=1&r=%20".length()
                    + " [0-9.]+ms")
            .containsPattern("127\\.0\\.0\\.1 POST /submit default 201 [0-9]+ [0-9.]+ms");
      }
    }
  }

  /**
   * The README's security example: a named token's agent serves the backend registered (through
   * the admin API) with that identity as its backendUser; an agent with another identity may not.
   * The token file is written as a Windows editor may save it (a byte-order mark, CRLF), which must
   * not change the identity.
   */
  @Test
  void namedTokenAgentServesTheBackendRegisteredForItsIdentity(@TempDir Path temp) throws Exception {
    String named = "bmFtZWQtYWdlbnQtdG9rZW4=";
    String admin = "it-admin-token-77d0";
    Path agents = temp.resolve("agents");
    Files.writeString(agents, "\uFEFFlaptop-agent " + named + "\r\n# IDENTITY TOKEN\r\n");
    try (JarProcess proxy =
        JarProcess.start(
            "proxy", "--port", "0", "--bind", "127.0.0.1", "--agent-token", TOKEN,
            "--agent-token-file", agents.toString(), "--admin-token", admin)) {
      Matcher listening = proxy.awaitLine("Listening on (http://127\\.0\\.0\\.1:(\\d+)/)", START);
      URI proxyUrl = URI.create(listening.group(1));
      proxy.awaitLine(
          "Agent identities \\(.*\\): token-1, laptop-agent", Duration.ofSeconds(5));

      HttpResponse<String> registered =
          send(
              HttpRequest.newBuilder(proxyUrl.resolve("api/backends"))
                  .header("Authorization", "Bearer " + admin)
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"id\":\"laptop\",\"backendUser\":\"laptop-agent\","
                              + "\"endUser\":\"allUsers\",\"pathPrefixes\":[\"/\"]}")));
      assertThat(registered.statusCode()).as(registered.body()).isEqualTo(200);

      // token-1 is a valid agent, but not one of laptop's backendUsers
      HttpResponse<String> otherAgent =
          send(
              HttpRequest.newBuilder(proxyUrl.resolve("agent/pending"))
                  .header("X-Inverting-Proxy-Backend-ID", "laptop")
                  .header("Authorization", "Bearer " + TOKEN)
                  .GET());
      assertThat(otherAgent.statusCode()).isEqualTo(403);

      try (JarProcess agent =
          JarProcess.start(
              "agent",
              "--proxy", proxyUrl.toString(),
              "--backend", "laptop",
              "--host", "127.0.0.1:" + backend.getAddress().getPort(),
              "--token", named)) {
        agent.awaitLine("Agent started for backend laptop: .*", START);
        awaitRelay(proxyUrl.resolve("ready"), proxy, agent);

        HttpResponse<String> get = send(HttpRequest.newBuilder(proxyUrl.resolve("via/laptop?x=1")).GET());
        assertThat(get.statusCode()).as(agent.transcript()).isEqualTo(201);
        assertThat(get.body()).isEqualTo("hello from the backend, /via/laptop?x=1");
        agent.awaitLine("Agent connected to " + proxyUrl + " for backend laptop", START);
        assertThat(agent.stderr()).doesNotContain("403").doesNotContain("WARNING");
        assertThat(agent.stop(Duration.ofSeconds(40))).as(agent.transcript()).isZero();
      }
      assertThat(proxy.stop(Duration.ofSeconds(20))).as(proxy.transcript()).isZero();
      assertThat(proxy.stdout() + proxy.stderr()).doesNotContain(named);
    }
  }

  @Test
  void withoutTokensTheProxyStartsButRefusesEveryAgent() throws Exception {
    try (JarProcess proxy = JarProcess.start("proxy", "--port=0", "--bind=127.0.0.1")) {
      Matcher listening = proxy.awaitLine("Listening on (http://127\\.0\\.0\\.1:(\\d+)/)", START);
      URI proxyUrl = URI.create(listening.group(1));
      assertThat(proxy.transcript()).contains("WARNING: no --agent-token or --agent-token-file given");
      HttpResponse<String> poll =
          send(
              HttpRequest.newBuilder(proxyUrl.resolve("agent/pending"))
                  .header("X-Inverting-Proxy-Backend-ID", "default")
                  .header("Authorization", "Bearer anything")
                  .GET());
      assertThat(poll.statusCode()).isEqualTo(401);
      assertThat(poll.headers().firstValue("WWW-Authenticate")).contains("Bearer");
      HttpResponse<String> client = send(HttpRequest.newBuilder(proxyUrl.resolve("x")).GET());
      assertThat(client.statusCode()).isEqualTo(503);
      assertThat(seenByBackend).isEmpty();
    }
  }

  /** With --bind 0.0.0.0 the printed URL is one to use, never http://0.0.0.0:PORT/. */
  @Test
  void allInterfacesPrintsAUsableUrl() throws Exception {
    // all interfaces, but in a network namespace of its own: nothing outside can reach it
    assumeTrue(JarProcess.canIsolate(), "needs unshare --net (Linux, root)");
    try (JarProcess proxy =
        JarProcess.startIsolated("proxy", "--port=0", "--bind=0.0.0.0", "--agent-token", TOKEN)) {
      Matcher listening = proxy.awaitLine("Listening on (http://127\\.0\\.0\\.1:(\\d+)/)", START);
      proxy.awaitLine(
          "All interfaces \\(--bind 0\\.0\\.0\\.0\\): that URL works on this machine; other machines "
              + "use this machine's name or address instead of 127\\.0\\.0\\.1\\.",
          Duration.ofSeconds(5));
      proxy.awaitLine(
          "Every client request goes to backend 'default'; agents: --proxy "
              + Pattern.quote(listening.group(1))
              + " .*",
          Duration.ofSeconds(5));
      assertThat(proxy.stop(Duration.ofSeconds(20))).as(proxy.transcript()).isZero();
      assertThat(proxy.stdout()).doesNotContain("0.0.0.0:");
    }
  }

  @Test
  void ctrlCStopsTheProxyWithExitCodeZero() throws Exception {
    assumeFalse(JarProcess.sigintIgnoredHere(), "SIGINT is ignored in this JVM and its children");
    try (JarProcess proxy =
        JarProcess.start("proxy", "--port=0", "--bind=127.0.0.1", "--agent-token", TOKEN)) {
      proxy.awaitLine("Listening on (http://127\\.0\\.0\\.1:(\\d+)/)", START);
      assertThat(proxy.interrupt(Duration.ofSeconds(20))).as(proxy.transcript()).isZero();
      assertThat(proxy.stderr())
          .as(proxy.transcript())
          .contains("Stopping ...")
          .doesNotContain("error")
          .doesNotContain("Exception");
    }
  }

  /** Polls until the proxy relays (no more 503: an agent has polled); bounded. */
  private void awaitRelay(URI uri, JarProcess proxy, JarProcess agent) throws Exception {
    long deadline = System.nanoTime() + START.toNanos();
    while (true) {
      HttpResponse<String> response = send(HttpRequest.newBuilder(uri).GET());
      if (response.statusCode() != 503) {
        assertThat(response.statusCode()).isEqualTo(201);
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(
            "the proxy still answers 503 after " + START.toSeconds() + " s\n"
                + proxy.transcript() + "\n" + agent.transcript());
      }
      Thread.sleep(50);
    }
  }

  private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return http.send(
        request.timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }
}
