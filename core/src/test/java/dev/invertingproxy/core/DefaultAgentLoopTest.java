package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.AgentLoop;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.CancelSignal;
import dev.invertingproxy.core.protocol.Capabilities;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.RequestIdList;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The agent loop's own logic against a scripted transport (the real OkHttp transport and proxy run
 * in transport-servlet's end-to-end tests): concurrency bound, drain on close, back-off,
 * de-duplication, 502 on an unreachable backend, user-ID forwarding.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DefaultAgentLoopTest {
  private final ScriptedTransport transport = new ScriptedTransport();
  private DefaultAgentLoop loop;

  @AfterEach
  void close() {
    if (loop != null) {
      loop.close(Duration.ofSeconds(5));
    }
  }

  private DefaultAgentLoop start(DefaultAgentLoop.Builder builder) {
    loop = builder.transport(transport).backendId("b1").build();
    loop.start();
    return loop;
  }

  private static String wire(String method, String target, String headers, String body) {
    return method + " " + target + " HTTP/1.1\r\nHost: public.example\r\n" + headers
        + (body.isEmpty() ? "" : "Content-Length: " + body.length() + "\r\n") + "\r\n" + body;
  }

  @Test
  @DisplayName("a request is read, forwarded and its response posted in wire format")
  void forwardsAndPosts() throws Exception {
    transport.requests.put("r1", wire("POST", "/x?y=1", "X-A: 1\r\n", "hello"));
    transport.backend = (head, body) -> {
      String text = new String(body.stream().readAllBytes(), StandardCharsets.ISO_8859_1);
      return response(200, head.method() + " " + head.target() + " " + text);
    };
    start(DefaultAgentLoop.builder());
    transport.offer("r1");
    String posted = transport.posted("r1");
    assertThat(posted).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nPOST /x?y=1 hello");
    assertThat(transport.forwardedHeads.get(0).headers().first("X-A")).contains("1");
  }

  @Test
  @DisplayName("an unreachable backend is answered with a 502 that says why")
  void unreachableBackend() throws Exception {
    transport.requests.put("r1", wire("GET", "/", "", ""));
    transport.backend = (head, body) -> {
      throw new ConnectException("Connection refused");
    };
    start(DefaultAgentLoop.builder());
    transport.offer("r1");
    String posted = transport.posted("r1");
    assertThat(posted).startsWith("HTTP/1.1 502 Bad Gateway\r\n").contains("Connection refused");
  }

  @Test
  @DisplayName("a target with a dot segment is refused with 400; the backend never sees it")
  void dotSegmentRefused() throws Exception {
    // A proxy that does not apply the rule (the reference server) may hand one over.
    transport.requests.put("r1", wire("GET", "/foo/%2e%2e/bar", "", ""));
    transport.requests.put("r2", wire("GET", "/foo/ok", "", ""));
    transport.backend = (head, body) -> response(200, head.target());
    start(DefaultAgentLoop.builder());
    transport.offer("r1", "r2");
    assertThat(transport.posted("r1"))
        .startsWith("HTTP/1.1 400 Bad Request\r\n")
        .contains("the agent refused the request")
        .contains("dot segment");
    assertThat(transport.posted("r2")).startsWith("HTTP/1.1 200 OK\r\n").endsWith("/foo/ok");
    assertThat(transport.forwardedHeads).extracting(RequestHead::target).containsExactly("/foo/ok");
  }

  @Test
  @DisplayName("a refusal (403) is logged once with the proxy's reason, retried slowly, and recovers")
  void refusalLoggedOnceAndRetriedSlowly() throws Exception {
    transport.pollError =
        new ProxyCallException(
            403, "list pending: the proxy answered 403: agent token-1 may not act for backend b1");
    transport.failPolls.set(2);
    try (LogCapture log = new LogCapture(DefaultAgentLoop.class)) {
      start(DefaultAgentLoop.builder().backoff(Duration.ofMillis(1), Duration.ofMillis(5)));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!loop.isConnected() || transport.polls.get() < 3) {
        assertThat(System.nanoTime()).isLessThan(deadline);
        Thread.sleep(10);
      }
      // Two refused polls, then the one that succeeds; after a refusal the agent waits at least a
      // second (a transient failure here would wait at most 5 ms).
      assertThat(transport.firstAnswered.get()).isEqualTo(3);
      long waited = transport.pollTimes.get(1) - transport.pollTimes.get(0);
      assertThat(Duration.ofNanos(waited)).isGreaterThanOrEqualTo(Duration.ofMillis(900));
      List<String> warnings = log.at(java.util.logging.Level.WARNING);
      assertThat(warnings).hasSize(1);
      assertThat(warnings.get(0))
          .contains("refused this agent")
          .contains("agent token-1 may not act for backend b1")
          .contains("once a minute");
      assertThat(log.at(java.util.logging.Level.INFO))
          .anySatisfy(line -> assertThat(line).contains("again, after 2 failed attempts"));
    }
  }

  @Test
  @DisplayName("an outage is logged once when it starts and once when it ends, not per attempt")
  void outageLoggedPerChangeOfState() throws Exception {
    transport.failPolls.set(8);
    try (LogCapture log = new LogCapture(DefaultAgentLoop.class)) {
      start(DefaultAgentLoop.builder().backoff(Duration.ofMillis(1), Duration.ofMillis(20)));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (transport.polls.get() < 10) {
        assertThat(System.nanoTime()).isLessThan(deadline);
        Thread.sleep(10);
      }
      assertThat(log.at(java.util.logging.Level.WARNING))
          .singleElement()
          .satisfies(line -> assertThat(line).contains("cannot reach the proxy").contains("proxy down"));
      assertThat(log.at(java.util.logging.Level.INFO))
          .anySatisfy(line -> assertThat(line).contains("again, after 8 failed attempts"));
    }
  }

  @Test
  @DisplayName("a stop while the transport is interrupted mid-call is quiet: nothing uncaught")
  void stopDuringConnectIsQuiet() throws Exception {
    List<Throwable> uncaught = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((thread, failure) -> uncaught.add(failure));
    try (LogCapture log = new LogCapture(DefaultAgentLoop.class)) {
      transport.hangUntilInterrupted = true;
      start(DefaultAgentLoop.builder());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (transport.polls.get() == 0) {
        assertThat(System.nanoTime()).isLessThan(deadline);
        Thread.sleep(5);
      }
      loop.close(Duration.ofSeconds(2));
      Thread.sleep(200); // room for a poll thread's uncaught failure to surface
      assertThat(uncaught).isEmpty();
      assertThat(log.at(java.util.logging.Level.WARNING)).isEmpty();
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
  }

  @Test
  @DisplayName("no more than maxInFlight requests are forwarded at once")
  void concurrencyIsBounded() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger now = new AtomicInteger();
    AtomicInteger peak = new AtomicInteger();
    transport.backend = (head, body) -> {
      peak.accumulateAndGet(now.incrementAndGet(), Math::max);
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      now.decrementAndGet();
      return response(204, "");
    };
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ids.add("r" + i);
      transport.requests.put("r" + i, wire("GET", "/" + i, "", ""));
    }
    start(DefaultAgentLoop.builder().maxInFlight(3));
    transport.offer(ids.toArray(String[]::new));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (now.get() < 3 && System.nanoTime() < deadline) { // three requests inside the backend
      Thread.sleep(5);
    }
    Thread.sleep(100); // room for a fourth, if the bound were broken
    assertThat(now.get()).isEqualTo(3);
    assertThat(loop.inFlight()).isEqualTo(3);
    // The other seven wait for a worker; none is read before one is free.
    assertThat(transport.reads.get()).isEqualTo(3);
    release.countDown();
    // As the proxy does, offer again what is still waiting, until everything is answered.
    while (System.nanoTime() < deadline) {
      List<String> waiting = new ArrayList<>();
      for (String id : ids) {
        if (transport.posts.computeIfAbsent(id, k -> new LinkedBlockingQueue<>()).isEmpty()) {
          waiting.add(id);
        }
      }
      if (waiting.isEmpty()) {
        break;
      }
      transport.offer(waiting.toArray(String[]::new));
      Thread.sleep(100);
    }
    for (String id : ids) {
      assertThat(transport.postedNow(id)).startsWith("HTTP/1.1 204");
    }
    assertThat(peak.get()).isEqualTo(3);
  }

  @Test
  @DisplayName("close() waits for in-flight requests, stops polling, and is idempotent")
  void closeDrains() throws Exception {
    CountDownLatch inBackend = new CountDownLatch(1);
    transport.requests.put("slow", wire("GET", "/slow", "", ""));
    transport.backend = (head, body) -> {
      inBackend.countDown();
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return response(200, "done");
    };
    start(DefaultAgentLoop.builder());
    transport.offer("slow");
    assertThat(inBackend.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(loop.close(Duration.ofSeconds(5))).isTrue();
    assertThat(transport.postedNow("slow")).endsWith("done");
    assertThat(loop.state()).isEqualTo(AgentLoop.State.CLOSED);
    assertThat(loop.close(Duration.ofSeconds(5))).isTrue();
    int polls = transport.polls.get();
    Thread.sleep(100);
    assertThat(transport.polls.get()).isEqualTo(polls);
  }

  @Test
  @DisplayName("poll errors back off and the loop recovers when the proxy is back")
  void backsOffAndRecovers() throws Exception {
    transport.failPolls.set(5);
    transport.requests.put("r1", wire("GET", "/", "", ""));
    transport.backend = (head, body) -> response(200, "ok");
    start(DefaultAgentLoop.builder().backoff(Duration.ofMillis(1), Duration.ofMillis(20)));
    transport.offer("r1");
    assertThat(transport.posted("r1")).endsWith("ok");
    assertThat(transport.failPolls.get()).isLessThanOrEqualTo(0);
    assertThat(loop.isConnected()).isTrue();
  }

  @Test
  @DisplayName("an ID offered twice is served once")
  void duplicateOffersServedOnce() throws Exception {
    transport.requests.put("r1", wire("GET", "/", "", ""));
    AtomicInteger calls = new AtomicInteger();
    transport.backend = (head, body) -> {
      calls.incrementAndGet();
      return response(200, "ok");
    };
    start(DefaultAgentLoop.builder());
    transport.offer("r1", "r1");
    transport.offer("r1");
    assertThat(transport.posted("r1")).endsWith("ok");
    transport.requests.put("r2", wire("GET", "/", "", ""));
    transport.offer("r2");
    transport.posted("r2");
    assertThat(calls.get()).isEqualTo(2);
  }

  @Test
  @DisplayName("with forwardUserId, the proxy's user ID replaces any such header")
  void forwardsUserId() throws Exception {
    transport.requests.put("r1", wire("GET", "/", "X-Inverting-Proxy-User-ID: spoofed\r\n", ""));
    transport.userIds.put("r1", "alice@example.com");
    transport.backend = (head, body) -> response(204, "");
    start(DefaultAgentLoop.builder().forwardUserId(true));
    transport.offer("r1");
    transport.posted("r1");
    assertThat(transport.forwardedHeads.get(0).headers().all("X-Inverting-Proxy-User-ID"))
        .containsExactly("alice@example.com");
  }

  @Test
  @DisplayName("a poll the proxy holds open counts as connected before it returns")
  void heldPollCountsAsConnected() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    ScriptedTransport holding =
        new ScriptedTransport() {
          @Override
          public List<String> listPending(String backendId) throws IOException {
            try {
              hold.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              throw new java.io.InterruptedIOException();
            }
            return List.of();
          }
        };
    loop = DefaultAgentLoop.builder().transport(holding).backendId("b1").build();
    assertThat(loop.isConnected()).isFalse();
    loop.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!loop.isConnected() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(loop.isConnected()).isTrue();
    hold.countDown();
  }

  @Test
  @DisplayName("a ready-made transport gets the agent's ID and proxy headers on every call")
  void injectedTransportCarriesAgentIdAndHeaders() throws Exception {
    transport.requests.put("r1", wire("GET", "/", "", ""));
    start(DefaultAgentLoop.builder().proxyHeaders(() -> Headers.of("Authorization", "Bearer t")));
    transport.offer("r1");
    transport.posted("r1");
    assertThat(transport.calls).hasSizeGreaterThanOrEqualTo(3); // list, read, post
    for (AgentTransport.ProxyCall call : transport.calls) {
      assertThat(call.headers().first(ProtocolHeaders.AGENT_ID)).as(call.path()).isPresent();
      assertThat(call.headers().first("Authorization")).as(call.path()).hasValue("Bearer t");
      assertThat(call.headers().first(ProtocolHeaders.BACKEND_ID)).as(call.path()).hasValue("b1");
    }
    assertThat(transport.calls)
        .extracting(call -> call.headers().first(ProtocolHeaders.AGENT_ID).orElseThrow())
        .containsOnly(transport.calls.get(0).headers().first(ProtocolHeaders.AGENT_ID).orElseThrow());
  }

  @Test
  @DisplayName("options that configure a transport are refused beside a ready-made one, not ignored")
  void transportOptionsBesideAReadyMadeTransportFail() {
    DefaultAgentLoop.Builder builder =
        DefaultAgentLoop.builder()
            .transport(transport)
            .backendId("b1")
            .backendUrl(java.net.URI.create("http://127.0.0.1:9"))
            .backendKeepAlive(Duration.ZERO);
    org.assertj.core.api.Assertions.assertThatThrownBy(builder::build)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("backendUrl, backendKeepAlive")
        .hasMessageContaining("transport(config -> ...)");
  }

  @Test
  @DisplayName("a transport factory is given the agent's one configuration")
  void transportFactoryGetsTheConfiguration() {
    java.util.concurrent.atomic.AtomicReference<dev.invertingproxy.AgentConfig> seen =
        new java.util.concurrent.atomic.AtomicReference<>();
    loop =
        DefaultAgentLoop.builder()
            .proxy(java.net.URI.create("http://proxy.example/base"))
            .backendId("b1")
            .backendUrl(java.net.URI.create("http://127.0.0.1:9"))
            .backendKeepAlive(Duration.ZERO)
            .maxInFlight(7)
            .transport(config -> {
              seen.set(config);
              return transport;
            })
            .build();
    assertThat(seen.get()).isSameAs(loop.config());
    assertThat(seen.get().proxyUrl()).hasToString("http://proxy.example/base/");
    assertThat(seen.get().backendUrl()).hasToString("http://127.0.0.1:9");
    assertThat(seen.get().backendKeepAlive()).isZero();
    assertThat(seen.get().maxInFlight()).isEqualTo(7);
    assertThat(seen.get().toBuilder().build().backendUrl()).isEqualTo(seen.get().backendUrl());
  }

  @Test
  @DisplayName("goodbye: said to a proxy announcing leave-notice in every answer, never otherwise")
  void goodbyeOnlyWhenEveryAnswerAnnouncedIt() throws Exception {
    AtomicBoolean withLeave = new AtomicBoolean(true);
    ScriptedTransport announcing =
        new ScriptedTransport() {
          @Override
          public Set<String> proxyCapabilities() {
            return withLeave.get() ? Set.of(Capabilities.LEAVE_NOTICE) : Set.of();
          }
        };
    loop = DefaultAgentLoop.builder().transport(announcing).backendId("b1").build();
    loop.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (announcing.polls.get() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    loop.close(Duration.ofSeconds(5));
    assertThat(announcing.leaves.get()).isEqualTo(1);

    ScriptedTransport mixed =
        new ScriptedTransport() {
          @Override
          public Set<String> proxyCapabilities() {
            // One node of two behind the address is a reference one: its answers announce nothing.
            return polls.get() % 2 == 0 ? Set.of(Capabilities.LEAVE_NOTICE) : Set.of();
          }
        };
    loop = DefaultAgentLoop.builder().transport(mixed).backendId("b1").build();
    loop.start();
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (mixed.polls.get() < 3 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    loop.close(Duration.ofSeconds(5));
    assertThat(mixed.leaves.get()).isZero();
  }

  @Test
  @DisplayName("goodbye: never after a reference node answered a next poll as a list call")
  void noGoodbyeAfterAListAnswerToANextPoll() throws Exception {
    AnnouncingTransport next =
        new AnnouncingTransport() {
          @Override
          public Set<String> proxyCapabilities() {
            return Set.of(Capabilities.NEXT_REQUEST, Capabilities.LEAVE_NOTICE);
          }

          @Override
          public WireMessage nextRequest(String backendId, CancelSignal cancel) {
            // The reference server answers any call with the backend header as a list call.
            return new WireMessage(
                Headers.empty(), new ByteArrayInputStream("[]".getBytes(StandardCharsets.UTF_8)));
          }
        };
    loop = DefaultAgentLoop.builder().transport(next).backendId("b1").build();
    loop.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (next.calls.stream().noneMatch(call -> call.path().equals("agent/next"))
        && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    Thread.sleep(100); // the lister takes over again and polls
    loop.close(Duration.ofSeconds(5));
    assertThat(next.calls).anyMatch(call -> call.path().equals("agent/next"));
    assertThat(next.leaves.get()).isZero();
  }

  @Test
  @DisplayName("a read is answered for the ID it asked for, whatever ID the answer names")
  void readPostsForTheIdAsked() throws Exception {
    ScriptedTransport naming =
        new ScriptedTransport() {
          @Override
          public WireMessage readRequest(String backendId, String requestId) throws IOException {
            WireMessage read = super.readRequest(backendId, requestId);
            return new WireMessage(
                read.headers().with(ProtocolHeaders.REQUEST_ID, "other"), read.body());
          }
        };
    naming.requests.put("r1", wire("GET", "/", "", ""));
    loop = DefaultAgentLoop.builder().transport(naming).backendId("b1").build();
    loop.start();
    naming.offer("r1");
    assertThat(naming.posted("r1")).startsWith("HTTP/1.1 200");
    assertThat(naming.posts.get("other")).isNull();
  }

  private static AgentTransport.BackendResponse response(int status, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
    ResponseHead head =
        new ResponseHead(
            "HTTP/1.1",
            status,
            status == 200 ? "OK" : status == 204 ? "No Content" : "Status",
            status == 204 ? Headers.empty() : Headers.of("Content-Length", Integer.toString(bytes.length)));
    MessageBody body = status == 204 ? MessageBody.empty() : MessageBody.of(bytes);
    return new AgentTransport.BackendResponse() {
      @Override
      public ResponseHead head() {
        return head;
      }

      @Override
      public MessageBody body() {
        return body;
      }

      @Override
      public void cancel() {}

      @Override
      public void close() {}
    };
  }

  @FunctionalInterface
  interface Backend {
    AgentTransport.BackendResponse forward(RequestHead head, MessageBody body) throws IOException;
  }

  /** A transport whose proxy and backend are scripted by the test. */
  @Test
  @DisplayName("next-request: after a list call announcing it, requests come from next polls, up to maxInFlight at once")
  void nextPollsServeConcurrently() throws Exception {
    NextTransport next = new NextTransport();
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger inBackend = new AtomicInteger();
    AtomicInteger mostInBackend = new AtomicInteger();
    next.backend = (head, body) -> {
      mostInBackend.accumulateAndGet(inBackend.incrementAndGet(), Math::max);
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
      inBackend.decrementAndGet();
      return response(200, head.target());
    };
    loop = DefaultAgentLoop.builder().transport(next).backendId("b1").maxInFlight(4).build();
    loop.start();
    for (int i = 0; i < 10; i++) {
      next.requests.put("n" + i, wire("GET", "/n" + i, "", ""));
      next.nextIds.add("n" + i);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (inBackend.get() < 4 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    Thread.sleep(100);
    assertThat(inBackend.get()).isEqualTo(4); // the bound holds: no fifth request is taken
    assertThat(loop.inFlight()).isEqualTo(4);
    release.countDown();
    for (int i = 0; i < 10; i++) {
      assertThat(next.posted("n" + i)).endsWith("\r\n\r\n/n" + i);
    }
    assertThat(mostInBackend.get()).isEqualTo(4);
    assertThat(next.reads.get()).isZero();
    assertThat(next.polls.get()).isEqualTo(1); // the list call that announced the extension
  }

  @Test
  @DisplayName("next-request: an idle agent keeps one poll open; close() ends it at once")
  void idleAgentKeepsOnePoll() throws Exception {
    NextTransport next = new NextTransport();
    loop = DefaultAgentLoop.builder().transport(next).backendId("b1").maxInFlight(8).build();
    loop.start();
    for (int i = 0; i < 20; i++) { // a burst grows the pollers
      next.requests.put("b" + i, wire("GET", "/b" + i, "", ""));
      next.nextIds.add("b" + i);
    }
    for (int i = 0; i < 20; i++) {
      next.posted("b" + i);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (next.waiting.get() != 1 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    Thread.sleep(300); // several idle poll cycles (each ends after 50 ms)
    assertThat(next.waiting.get()).isEqualTo(1);
    assertThat(loop.isConnected()).isTrue();
    long start = System.nanoTime();
    assertThat(loop.close(Duration.ofSeconds(5))).isTrue();
    // The open poll is cancelled by close(); its thread leaves it a moment later.
    while (next.waiting.get() != 0 && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5)) {
      Thread.sleep(5);
    }
    assertThat(next.waiting.get()).isZero();
    assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(2));
  }

  @Test
  @DisplayName("cancel notices are polled only while requests are in flight: an idle agent holds one poll")
  void cancelPollOnlyWhileBusy() throws Exception {
    AtomicInteger cancelPolls = new AtomicInteger();
    NextTransport next =
        new NextTransport() {
          @Override
          public java.util.Set<String> proxyCapabilities() {
            return java.util.Set.of(Capabilities.NEXT_REQUEST, Capabilities.CANCEL_NOTICES);
          }

          @Override
          public List<String> listCancelled(String backendId) throws IOException {
            cancelPolls.incrementAndGet();
            try {
              Thread.sleep(50);
            } catch (InterruptedException e) {
              throw new java.io.InterruptedIOException();
            }
            return List.of();
          }
        };
    CountDownLatch release = new CountDownLatch(1);
    next.backend = (head, body) -> {
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
      return response(200, "done");
    };
    loop = DefaultAgentLoop.builder().transport(next).backendId("b1").build();
    loop.start();
    Thread.sleep(300); // idle: next polls come and go, no cancel poll
    assertThat(cancelPolls.get()).isZero();
    next.requests.put("c1", wire("GET", "/slow", "", ""));
    next.nextIds.add("c1");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (cancelPolls.get() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(cancelPolls.get()).isPositive(); // a request in flight: its client may leave
    release.countDown();
    assertThat(next.posted("c1")).endsWith("done");
    Thread.sleep(150); // the last cancel poll ends
    int afterwards = cancelPolls.get();
    Thread.sleep(300);
    assertThat(cancelPolls.get()).isEqualTo(afterwards); // idle again: no more cancel polls
  }

  @Test
  @DisplayName("next-request: a proxy that stops serving agent/next (rollback) gets listed again, v1")
  void fallsBackToListingWhenNextIsGone() throws Exception {
    AtomicInteger refusedNext = new AtomicInteger();
    AnnouncingTransport next =
        new AnnouncingTransport() {
          @Override
          public WireMessage nextRequest(String backendId, CancelSignal cancel) throws IOException {
            if (!announced.get()) {
              refusedNext.incrementAndGet();
              throw new ProxyCallException(404, "no such endpoint");
            }
            return super.nextRequest(backendId, cancel);
          }
        };
    loop = DefaultAgentLoop.builder().transport(next).backendId("b1").maxInFlight(4).build();
    loop.start();
    next.requests.put("n1", wire("GET", "/n1", "", ""));
    next.nextIds.add("n1");
    assertThat(next.posted("n1")).startsWith("HTTP/1.1 200");
    int listsBefore = next.polls.get();

    next.announced.set(false); // the node behind the proxy's address is an older one now
    next.requests.put("v1", wire("GET", "/v1", "", ""));
    next.offer("v1");

    assertThat(next.posted("v1")).startsWith("HTTP/1.1 200");
    assertThat(next.reads.get()).isEqualTo(1); // read as in v1
    assertThat(next.polls.get()).isGreaterThan(listsBefore);
    Thread.sleep(200);
    int refused = refusedNext.get();
    Thread.sleep(300);
    assertThat(refusedNext.get()).isEqualTo(refused); // no more next polls while listing

    next.announced.set(true); // upgraded again: the next list answer switches back
    next.requests.put("n2", wire("GET", "/n2", "", ""));
    next.nextIds.add("n2");
    assertThat(next.posted("n2")).startsWith("HTTP/1.1 200");
    assertThat(next.reads.get()).isEqualTo(1);
    assertThat(next.forwardedHeads).extracting(RequestHead::target).containsExactly("/n1", "/v1", "/n2");
  }

  @Test
  @DisplayName("next-request: a list answer to agent/next (the reference server) sends the agent back to listing")
  void aListAnswerToANextPollIsNotPolledInALoop() throws Exception {
    AtomicInteger nextPolls = new AtomicInteger();
    AnnouncingTransport next =
        new AnnouncingTransport() {
          @Override
          public WireMessage nextRequest(String backendId, CancelSignal cancel) {
            nextPolls.incrementAndGet();
            announced.set(false);
            // The reference server answers any call with the backend header as a list call.
            return new WireMessage(
                Headers.empty(), new ByteArrayInputStream("[]".getBytes(StandardCharsets.UTF_8)));
          }
        };
    loop = DefaultAgentLoop.builder().transport(next).backendId("b1").maxInFlight(4).build();
    loop.start();
    next.requests.put("v1", wire("GET", "/v1", "", ""));
    next.offer("v1");
    assertThat(next.posted("v1")).startsWith("HTTP/1.1 200");
    Thread.sleep(300);
    assertThat(nextPolls.get()).isEqualTo(1); // once, not in a loop
    assertThat(next.reads.get()).isEqualTo(1);
  }

  /** A proxy that announces next-request while {@link #announced} is true (a deploy can change it). */
  static class AnnouncingTransport extends NextTransport {
    final AtomicBoolean announced = new AtomicBoolean(true);

    @Override
    public Set<String> proxyCapabilities() {
      return announced.get() ? Set.of(Capabilities.NEXT_REQUEST) : Set.of();
    }
  }

  /** A proxy announcing next-request: next polls take IDs from a queue, or end empty after 50 ms. */
  static class NextTransport extends ScriptedTransport {
    final LinkedBlockingQueue<String> nextIds = new LinkedBlockingQueue<>();
    final AtomicInteger waiting = new AtomicInteger();

    @Override
    public java.util.Set<String> proxyCapabilities() {
      return java.util.Set.of(Capabilities.NEXT_REQUEST);
    }

    @Override
    public WireMessage nextRequest(String backendId, CancelSignal cancel)
        throws IOException {
      waiting.incrementAndGet();
      Thread caller = Thread.currentThread();
      cancel.onCancel(caller::interrupt);
      try {
        String id = nextIds.poll(50, TimeUnit.MILLISECONDS);
        if (id == null) {
          return null;
        }
        String wire = requests.get(id);
        return new WireMessage(
            Headers.of(ProtocolHeaders.REQUEST_ID, id),
            new ByteArrayInputStream(wire.getBytes(StandardCharsets.ISO_8859_1)));
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException("cancelled");
      } finally {
        waiting.decrementAndGet();
      }
    }
  }

  @SuppressWarnings("unchecked")
  static <T extends Throwable> T sneaky(Throwable t) throws T {
    throw (T) t;
  }

  /** What the scripted proxy answers a read or a next poll with: metadata headers and the wire. */
  record WireMessage(Headers headers, InputStream body) {}

  /**
   * A transport whose proxy and backend are scripted by the test: the protocol calls that reach
   * {@link #call} are answered as this project's proxy (or a reference one) would, in bytes, from
   * the scripted methods below, so the agent's real {@code ProxyClient} reads them.
   */
  static class ScriptedTransport implements AgentTransport {
    /** Every call to the proxy, in order. */
    final List<ProxyCall> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Goodbyes taken. */
    final AtomicInteger leaves = new AtomicInteger();

    /** The capabilities the scripted proxy announces on its poll answers; none by default. */
    public Set<String> proxyCapabilities() {
      return Set.of();
    }

    /** Scripted cancel notices; a proxy without the extension by default. */
    public List<String> listCancelled(String backendId) throws IOException {
      throw new ProxyCallException(404, "no agent/cancelled here");
    }

    /** Scripted next polls; a proxy without the extension by default. */
    public WireMessage nextRequest(String backendId, CancelSignal cancel) throws IOException {
      throw new ProxyCallException(404, "no agent/next here");
    }

    /** Scripted list polls with a cancel signal: the one-argument form by default. */
    public List<String> listPending(String backendId, CancelSignal cancel) throws IOException {
      return listPending(backendId);
    }

    @Override
    public ProxyAnswer call(ProxyCall call, CancelSignal cancel) throws IOException {
      calls.add(call);
      String backendId = call.headers().first(ProtocolHeaders.BACKEND_ID).orElseThrow();
      String requestId = call.headers().first(ProtocolHeaders.REQUEST_ID).orElse(null);
      Headers announced =
          proxyCapabilities().isEmpty()
              ? Headers.empty()
              : Headers.of(ProtocolHeaders.CAPABILITIES, String.join(", ", proxyCapabilities()));
      try {
        switch (call.path()) {
          case "agent/pending":
            return answer(200, announced, RequestIdList.encode(listPending(backendId, cancel)));
          case "agent/cancelled":
            return answer(200, Headers.empty(), RequestIdList.encode(listCancelled(backendId)));
          case "agent/next":
            {
              WireMessage next = nextRequest(backendId, cancel);
              if (next == null) {
                return answer(204, announced, new byte[0]);
              }
              Headers headers = announced.toBuilder().addAll(next.headers()).build();
              return answer(200, headers, next.body());
            }
          case "agent/request":
            {
              WireMessage read = readRequest(backendId, requestId);
              return answer(200, read.headers(), read.body());
            }
          case "agent/response":
            postResponse(backendId, requestId, call.body());
            return answer(200, Headers.empty(), new byte[0]);
          case "agent/leave":
            leaves.incrementAndGet();
            return answer(204, Headers.empty(), new byte[0]);
          default:
            return answer(404, Headers.empty(), ("no " + call.path()).getBytes(StandardCharsets.UTF_8));
        }
      } catch (ProxyCallException refused) {
        return answer(
            refused.status(), Headers.empty(), refused.getMessage().getBytes(StandardCharsets.UTF_8));
      }
    }

    private static ProxyAnswer answer(int status, Headers headers, byte[] body) {
      return answer(status, headers, new ByteArrayInputStream(body));
    }

    private static ProxyAnswer answer(int status, Headers headers, InputStream body) {
      return new ProxyAnswer() {
        @Override
        public int status() {
          return status;
        }

        @Override
        public String message() {
          return "";
        }

        @Override
        public Headers headers() {
          return headers;
        }

        @Override
        public InputStream body() {
          return body;
        }

        @Override
        public void close() throws IOException {
          body.close();
        }
      };
    }

    final LinkedBlockingQueue<List<String>> offers = new LinkedBlockingQueue<>();
    final Map<String, String> requests = new ConcurrentHashMap<>();
    final Map<String, String> userIds = new ConcurrentHashMap<>();
    final Map<String, LinkedBlockingQueue<String>> posts = new ConcurrentHashMap<>();
    final List<RequestHead> forwardedHeads = new java.util.concurrent.CopyOnWriteArrayList<>();
    final AtomicInteger failPolls = new AtomicInteger();
    /** When each poll was made (System.nanoTime). */
    final List<Long> pollTimes = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The number of the first poll that was answered (0 until one is). */
    final AtomicInteger firstAnswered = new AtomicInteger();
    /** What a failing poll throws; a refused connection by default. */
    volatile IOException pollError;
    /** Polls block until interrupted, then throw InterruptedException undeclared, as OkHttp can. */
    volatile boolean hangUntilInterrupted;
    final AtomicInteger polls = new AtomicInteger();
    final AtomicInteger reads = new AtomicInteger();
    volatile Backend backend = (head, body) -> response(200, "");

    void offer(String... ids) {
      offers.add(List.of(ids));
    }

    String posted(String id) throws InterruptedException {
      String wire = posts.computeIfAbsent(id, k -> new LinkedBlockingQueue<>()).poll(10, TimeUnit.SECONDS);
      assertThat(wire).as("response posted for " + id).isNotNull();
      return wire;
    }

    String postedNow(String id) {
      String wire = posts.computeIfAbsent(id, k -> new LinkedBlockingQueue<>()).peek();
      assertThat(wire).as("response already posted for " + id).isNotNull();
      return wire;
    }

    public List<String> listPending(String backendId) throws IOException {
      polls.incrementAndGet();
      pollTimes.add(System.nanoTime());
      if (failPolls.getAndDecrement() > 0) {
        IOException error = pollError;
        throw error != null ? error : new ConnectException("proxy down");
      }
      firstAnswered.compareAndSet(0, polls.get());
      if (hangUntilInterrupted) {
        try {
          Thread.sleep(60_000);
        } catch (InterruptedException e) {
          throw DefaultAgentLoopTest.<RuntimeException>sneaky(e);
        }
      }
      try {
        List<String> ids = offers.poll(50, TimeUnit.MILLISECONDS);
        return ids == null ? List.of() : ids;
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
    }

    public WireMessage readRequest(String backendId, String requestId) throws IOException {
      reads.incrementAndGet();
      String wire = requests.get(requestId);
      if (wire == null) {
        throw new ProxyCallException(404, "unknown");
      }
      String user = userIds.get(requestId);
      Headers headers =
          user == null ? Headers.empty() : Headers.of(ProtocolHeaders.USER_ID, user);
      return new WireMessage(
          headers, new ByteArrayInputStream(wire.getBytes(StandardCharsets.ISO_8859_1)));
    }

    public void postResponse(String backendId, String requestId, BodyWriter writer)
        throws IOException {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      writer.writeTo(out);
      posts
          .computeIfAbsent(requestId, k -> new LinkedBlockingQueue<>())
          .add(out.toString(StandardCharsets.ISO_8859_1));
    }

    @Override
    public BackendResponse forward(RequestHead head, MessageBody body) throws IOException {
      forwardedHeads.add(head);
      return backend.forward(head, body);
    }

    @Override
    public void close() {}
  }

}
