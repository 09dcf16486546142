package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.core.protocol.AgentEndpoint;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.CancelSignal;
import dev.invertingproxy.testkit.RawHttpBackend;
import dev.invertingproxy.transport.okhttp.OkHttpAgentTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The extension {@code next-request} ({@code GET agent/next}): announced on list answers, a long
 * poll answered with one claimed request (or 204), each request to exactly one poll, a request
 * given back when its poll's agent left, and our agent using it end to end.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NextRequestIT {
  private Relay relay;
  private AgentCalls agent;
  private OkHttpClient client;

  @BeforeEach
  void start() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.longPollTimeout(Duration.ofMillis(500)));
    agent = new AgentCalls(relay.proxy);
    client = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
    client.dispatcher().executorService().shutdownNow();
    relay.close();
  }

  private CompletableFuture<Response> clientRequest(String path, String body) {
    Request.Builder request = new Request.Builder().url(relay.url(path).toString());
    if (body != null) {
      request.post(RequestBody.create(body, MediaType.get("text/plain")));
    }
    CompletableFuture<Response> response = new CompletableFuture<>();
    client.newCall(request.build()).enqueue(callback(response));
    return response;
  }

  private static Callback callback(CompletableFuture<Response> response) {
    return new Callback() {
      @Override
      public void onFailure(Call call, java.io.IOException e) {
        response.completeExceptionally(e);
      }

      @Override
      public void onResponse(Call call, Response r) {
        response.complete(r);
      }
    };
  }

  @Test
  @DisplayName("list answers announce next-request; an idle next poll ends with 204 and the announcement")
  void announcedAndIdle() throws Exception {
    AgentCalls.Answer list = agent.pending("b1");
    assertThat(list.headers().get("X-Inverting-Proxy-Capabilities")).contains("next-request");
    long start = System.nanoTime();
    AgentCalls.Answer next = agent.next("b1");
    assertThat(next.status()).isEqualTo(204);
    assertThat(next.body()).isEmpty();
    assertThat(next.headers().get("X-Inverting-Proxy-Capabilities")).contains("next-request");
    assertThat(System.nanoTime() - start).isGreaterThan(TimeUnit.MILLISECONDS.toNanos(400)); // it waited
  }

  @Test
  @DisplayName("a next poll answers with the request, as a read would; the posted response reaches the client")
  void nextThenPost() throws Exception {
    agent.pending("b1"); // the backend is live now
    CompletableFuture<Response> response = clientRequest("/thing?x=1", "hello");
    AgentCalls.Answer next = awaitRequest();
    String id = next.headers().get("X-Inverting-Proxy-Request-ID");
    assertThat(id).matches("[0-9a-f]{32}");
    assertThat(next.headers().get("X-Inverting-Proxy-Request-Start-Time")).isNotBlank();
    assertThat(next.body()).startsWith("POST /thing?x=1 HTTP/1.1\r\n").endsWith("\r\n\r\nhello");
    // The request is claimed: a list call no longer offers it.
    assertThat(agent.pending("b1").body()).doesNotContain(id);

    AgentCalls.Answer posted =
        agent.respond("b1", id, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nworld");
    assertThat(posted.status()).isEqualTo(200);
    try (Response r = response.get(10, TimeUnit.SECONDS)) {
      assertThat(r.code()).isEqualTo(201);
      assertThat(r.body().string()).isEqualTo("world");
    }
  }

  private AgentCalls.Answer awaitRequest() throws Exception {
    for (int i = 0; i < 20; i++) {
      AgentCalls.Answer next = agent.next("b1");
      if (next.status() == 200) {
        return next;
      }
      assertThat(next.status()).isEqualTo(204);
    }
    throw new AssertionError("no request came");
  }

  @Test
  @DisplayName("queued requests go one per next poll, each to exactly one poll")
  void onePerPoll() throws Exception {
    agent.pending("b1");
    List<CompletableFuture<Response>> responses = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      responses.add(clientRequest("/r" + i, null));
    }
    Set<String> seen = new HashSet<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (seen.size() < 5 && System.nanoTime() < deadline) {
      AgentCalls.Answer next = agent.next("b1");
      if (next.status() == 200) {
        String id = next.headers().get("X-Inverting-Proxy-Request-ID");
        assertThat(seen.add(id)).as("offered twice: " + id).isTrue();
        assertThat(next.body()).startsWith("GET /r");
        agent.respond("b1", id, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      }
    }
    assertThat(seen).hasSize(5);
    for (CompletableFuture<Response> response : responses) {
      try (Response r = response.get(10, TimeUnit.SECONDS)) {
        assertThat(r.body().string()).isEqualTo("ok");
      }
    }
  }

  @Test
  @DisplayName("a next poll whose agent left is not handed a request: the next poll gets it")
  void leftPollDoesNotLoseTheRequest() throws Exception {
    agent.pending("b1");
    Call gone = agent.startNext("b1");
    CompletableFuture<Response> goneAnswer = new CompletableFuture<>();
    gone.enqueue(callback(goneAnswer));
    Thread.sleep(200); // the poll is parked at the proxy
    gone.cancel(); // the agent disconnects
    Thread.sleep(200);
    CompletableFuture<Response> response = clientRequest("/after", null);
    AgentCalls.Answer next = awaitRequest();
    String id = next.headers().get("X-Inverting-Proxy-Request-ID");
    agent.respond("b1", id, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsafe");
    try (Response r = response.get(10, TimeUnit.SECONDS)) {
      assertThat(r.body().string()).isEqualTo("safe");
    }
  }

  @Test
  @DisplayName("next polls need the agent's credential (401) and a backend ID (400)")
  void refused() throws Exception {
    try (AgentCalls stranger = new AgentCalls(relay.proxy, "wrong-token")) {
      AgentCalls.Answer next = stranger.next("b1");
      assertThat(next.status()).isEqualTo(401);
      assertThat(next.headers().get("WWW-Authenticate")).isEqualTo("Bearer");
    }
    assertThat(agent.next(null).status()).isEqualTo(400);
  }

  @Test
  @DisplayName("our agent switches to next polls: after its first list call, neither lists nor reads")
  void ourAgentUsesNextPolls() throws Exception {
    try (RawHttpBackend backend = new RawHttpBackend()) {
      AtomicReference<CountingTransport> created = new AtomicReference<>();
      relay.startAgent(
          backend.uri(),
          builder ->
              builder
                  .maxInFlight(16)
                  .transport(
                      config -> {
                        CountingTransport counting =
                            new CountingTransport(OkHttpAgentTransport.create(config));
                        created.set(counting);
                        return counting;
                      }));
      CountingTransport counting = created.get();
      assertThat(counting).isNotNull();
      // The first list call may offer requests by ID (read as in v1); after it, only next polls.
      try (Response first = clientRequest("/first", null).get(20, TimeUnit.SECONDS)) {
        assertThat(first.code()).isEqualTo(200);
      }
      assertThat(counting.lists.get()).isEqualTo(1);
      counting.reads.set(0);
      counting.nexts.set(0);
      List<CompletableFuture<Response>> responses = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        responses.add(clientRequest("/echo/" + i, "body-" + i));
      }
      for (int i = 0; i < responses.size(); i++) {
        try (Response r = responses.get(i).get(20, TimeUnit.SECONDS)) {
          assertThat(r.code()).isEqualTo(200);
          assertThat(r.body().string()).contains("/echo/" + i).contains("body-" + i);
        }
      }
      assertThat(counting.lists.get()).isEqualTo(1);
      assertThat(counting.reads.get()).isZero();
      assertThat(counting.nexts.get()).isGreaterThanOrEqualTo(40);
      assertThat(backend.received).hasSize(41);
    }
  }

  /** Our OkHttp transport, counting the agent's calls to the proxy by endpoint. */
  private static final class CountingTransport implements AgentTransport {
    final AtomicInteger lists = new AtomicInteger();
    final AtomicInteger reads = new AtomicInteger();
    final AtomicInteger nexts = new AtomicInteger();
    private final AgentTransport delegate;

    CountingTransport(AgentTransport delegate) {
      this.delegate = delegate;
    }

    @Override
    public ProxyAnswer call(ProxyCall call, CancelSignal cancel) throws java.io.IOException {
      if (call.path().equals(AgentEndpoint.PENDING.path())) {
        lists.incrementAndGet();
      } else if (call.path().equals(AgentEndpoint.REQUEST.path())) {
        reads.incrementAndGet();
      } else if (call.path().equals(AgentEndpoint.NEXT.path())) {
        nexts.incrementAndGet();
      }
      return delegate.call(call, cancel);
    }

    @Override
    public BackendResponse forward(
        dev.invertingproxy.RequestHead head, dev.invertingproxy.MessageBody body) throws java.io.IOException {
      return delegate.forward(head, body);
    }

    @Override
    public BackendResponse forward(
        dev.invertingproxy.RequestHead head, dev.invertingproxy.MessageBody body, CancelSignal cancel)
        throws java.io.IOException {
      return delegate.forward(head, body, cancel);
    }

    @Override
    public void close() {
      delegate.close();
    }
  }
}
