package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.testkit.RawHttpClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import dev.invertingproxy.core.ProxyEngine;

/** Limits are answered by the proxy itself, before anything reaches an agent or the backend. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LimitsIT {
  private Relay relay;

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
  }

  @Test
  @DisplayName("a declared body over the limit: 413 at once; the backend never sees it")
  void declaredBodyTooLarge() throws Exception {
    relay = Relay.withAgent(engine -> engine.maxBodyBytes(1000));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n" + "x".repeat(1001));
      RawHttpClient.Response response = c.read("POST");
      assertThat(response.status()).isEqualTo(413);
      assertThat(response.bodyText()).contains("limit of 1000 bytes");
    }
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + "y".repeat(1000));
      assertThat(c.read("POST").status()).isEqualTo(200);
    }
    assertThat(relay.backend.take().head().target()).isEqualTo("/ok");
  }

  @Test
  @DisplayName("a chunked body that grows past the limit while streaming: 413")
  void streamedBodyTooLarge() throws Exception {
    relay = Relay.withAgent(engine -> engine.maxBodyBytes(1000));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      String chunk = "x".repeat(600);
      c.send(
          "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              + "258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
      RawHttpClient.Response response = c.read("POST");
      assertThat(response.status()).isEqualTo(413);
    }
    assertThat(relay.backend.received.poll(500, TimeUnit.MILLISECONDS)).isNull();
  }

  @Test
  @DisplayName("request headers over the limit: 431")
  void headersTooLarge() throws Exception {
    relay = Relay.withAgent(engine -> engine.maxHeadBytes(4096));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("GET /h HTTP/1.1\r\nHost: h\r\nX-Big: " + "z".repeat(5000) + "\r\n\r\n");
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.status()).isEqualTo(431);
      assertThat(response.bodyText()).contains("4096");
    }
  }

  /** A GET whose head, as the engine measures it, is {@code size} bytes: many headers or a long target. */
  private static String headOfSize(int size, boolean longTarget) {
    String fixed = "GET  HTTP/1.1\r\nHost: h\r\n"; // the engine counts each line with its CRLF
    int left = size - fixed.length();
    if (longTarget) {
      return "GET /" + "t".repeat(left - 1) + " HTTP/1.1\r\nHost: h\r\n\r\n";
    }
    StringBuilder head = new StringBuilder("GET / HTTP/1.1\r\nHost: h\r\n");
    left -= 1; // the target "/"
    int i = 0;
    while (left > 0) {
      String name = "X-H" + i++;
      int value = Math.min(100, left - name.length() - 4);
      if (value < 1) { // too little room for another field: widen the previous one
        head.insert(head.length() - 2, "v".repeat(left));
        break;
      }
      head.append(name).append(": ").append("v".repeat(value)).append("\r\n");
      left -= name.length() + 4 + value;
    }
    return head.append("\r\n").toString();
  }

  @ParameterizedTest(name = "long target: {0}")
  @ValueSource(booleans = {false, true})
  @DisplayName("the documented head limit (32 KiB) is the real one, as many headers and as a long target")
  void headLimitIsTheEngines(boolean longTarget) throws Exception {
    relay = Relay.withAgent();
    int limit = relay.engine.maxHeadBytes();
    assertThat(limit).isEqualTo(32 * 1024);
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send(headOfSize(limit, longTarget));
      assertThat(c.read("GET").status()).isEqualTo(200); // Jetty's own 8 KiB would refuse it
    }
    assertThat(relay.backend.take().head().target()).startsWith("/");
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send(headOfSize(limit + 1, longTarget));
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.status()).isEqualTo(431);
      assertThat(response.bodyText()).contains("limit of 32768 bytes"); // the engine's reason
    }
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send(headOfSize(limit + ProxyEngine.CONTAINER_HEAD_SLACK + 100, longTarget));
      // far over: Jetty refuses before the engine (414 for a request line that long)
      assertThat(c.read("GET").status()).isEqualTo(longTarget ? 414 : 431);
    }
    assertThat(relay.backend.received).isEmpty();
  }

  @Test
  @DisplayName("a response head far above Jetty's default (8 KiB) reaches the client")
  void largeResponseHead() throws Exception {
    relay = Relay.withAgent();
    String cookie = "c".repeat(20_000);
    relay.backend.respondWith(
        (request, out) ->
            out.write(
                ("HTTP/1.1 200 OK\r\nSet-Cookie: big=" + cookie + "\r\nContent-Length: 2\r\n\r\nok")
                    .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)));
    try (RawHttpClient c = new RawHttpClient(relay.port())) {
      c.send("GET /cookie HTTP/1.1\r\nHost: h\r\n\r\n");
      RawHttpClient.Response response = c.read("GET");
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.headers().first("Set-Cookie")).hasValue("big=" + cookie);
      assertThat(response.bodyText()).isEqualTo("ok");
    }
  }

  @Test
  @DisplayName("too many concurrent polls for one backend: 429")
  void pollLimit() throws Exception {
    relay =
        Relay.withoutAgent(
            engine -> engine.maxPollsPerBackend(1).longPollTimeout(Duration.ofSeconds(5)));
    // Three polls at once with room for one: whichever comes first waits, the others get 429.
    List<AgentCalls> agents = List.of(
        new AgentCalls(relay.proxy), new AgentCalls(relay.proxy), new AgentCalls(relay.proxy));
    try {
      List<CompletableFuture<AgentCalls.Answer>> polls = new ArrayList<>();
      for (AgentCalls agent : agents) {
        polls.add(
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return agent.pending("b1");
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                },
                Executors.newSingleThreadExecutor()));
      }
      List<Integer> statuses = new ArrayList<>();
      for (CompletableFuture<AgentCalls.Answer> poll : polls) {
        AgentCalls.Answer answer = poll.get(20, TimeUnit.SECONDS);
        statuses.add(answer.status());
        if (answer.status() == 429) {
          assertThat(answer.body()).contains("too many concurrent polls");
        }
      }
      assertThat(statuses).containsExactlyInAnyOrder(200, 429, 429);
      // the slot is free again
      assertThat(agents.get(0).pending("b1").status()).isEqualTo(200);
    } finally {
      agents.forEach(AgentCalls::close);
    }
  }
}
