package dev.invertingproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.invertingproxy.AgentFailedException;
import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.ClaimedRequest;
import dev.invertingproxy.DuplicateResponseException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.PendingExchange;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.RequestConflictException;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.core.ErrorMapping;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.ResponseListener;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.UnknownRequestException;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The storage conformance kit: what every {@link Storage} must do. A storage plugin's test
 * extends this class and implements {@link #newStorage(StorageOptions)}; it is done when the kit
 * passes.
 *
 * <p>The kit passes a {@link MutableClock} in the options: expiry is tested by moving it, never
 * by sleeping. Declare extra {@link #capabilities()} to run the tests that need them; opt a test
 * out only through {@link #knownGaps()}, with a reason.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
public abstract class AbstractStorageConformanceTest {
  /** The options every storage of a test is created with; its clock is {@link #clock}. */
  protected final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));

  protected Storage storage;
  private final List<Storage> opened = new ArrayList<>();

  /** Creates a fresh, empty storage honouring {@code options} (clock, limits, delays). */
  protected abstract Storage newStorage(StorageOptions options);

  /** Returns the capabilities this plugin offers beyond the base contract. */
  protected Set<Capability> capabilities() {
    return Set.of();
  }

  /** Test method name → why this plugin cannot pass it yet. Printed, and the test skipped. */
  protected Map<String, String> knownGaps() {
    return Map.of();
  }

  /**
   * Returns another storage over the same shared state as {@code first} (another proxy node).
   * Needed only with {@link Capability#MULTI_NODE}.
   */
  protected Storage newPeer(Storage first, StorageOptions options) {
    throw new UnsupportedOperationException("declare MULTI_NODE and implement newPeer");
  }

  protected StorageOptions options() {
    return StorageOptions.defaults().withClock(clock);
  }

  protected Storage open(StorageOptions options) {
    Storage created = newStorage(options);
    opened.add(created);
    return created;
  }

  @BeforeEach
  void openStorage(org.junit.jupiter.api.TestInfo info) {
    String method = info.getTestMethod().map(m -> m.getName()).orElse("");
    String gap = knownGaps().get(method);
    if (gap != null) {
      System.out.println("[storage kit] known gap, skipped: " + method + ": " + gap);
    }
    assumeTrue(gap == null, () -> "known gap: " + gap);
    storage = open(options());
  }

  @AfterEach
  void closeStorages() {
    for (Storage each : opened) {
      each.close();
    }
  }

  private void require(Capability capability) {
    assumeTrue(
        capabilities().contains(capability),
        () -> "the plugin does not declare " + capability + "; test skipped");
  }

  // ------------------------------------------------------------------ helpers

  protected static ParkedRequest request(String backend) {
    return request(backend, "GET", "/");
  }

  protected static ParkedRequest request(String backend, String method, String target) {
    return new ParkedRequest(
        UUID.randomUUID().toString().replace("-", ""),
        backend,
        new RequestHead(method, target, "HTTP/1.1", Headers.of("Host", "example.test")),
        Instant.parse("2026-01-01T00:00:00Z"),
        null);
  }

  protected static MessageBody text(String text) {
    return MessageBody.of(text.getBytes(StandardCharsets.UTF_8));
  }

  protected static String readAll(MessageBody body) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    body.stream().transferTo(out);
    return out.toString(StandardCharsets.UTF_8);
  }

  protected static ResponseHead ok() {
    return new ResponseHead("HTTP/1.1", 200, "OK", Headers.of("Content-Length", "5"));
  }

  /** Records what the broker tells a parked request. */
  protected static final class Recorder implements ResponseListener {
    public final CompletableFuture<String> body = new CompletableFuture<>();
    public final CompletableFuture<ResponseHead> head = new CompletableFuture<>();
    public final CompletableFuture<InvertingProxyException> failure = new CompletableFuture<>();
    public final AtomicInteger calls = new AtomicInteger();

    @Override
    public void onResponse(ResponseHead responseHead, MessageBody responseBody)
        throws IOException {
      calls.incrementAndGet();
      head.complete(responseHead);
      body.complete(readAll(responseBody));
    }

    @Override
    public void onFailure(InvertingProxyException cause) {
      calls.incrementAndGet();
      failure.complete(cause);
    }
  }

  /** A bodyless request of backend {@code b1}, submitted, offered to a poll and claimed. */
  private ParkedRequest submittedAndClaimed(RequestBroker broker, Recorder recorder) throws Exception {
    ParkedRequest parked = request("b1");
    broker.submit(parked, MessageBody.empty(), recorder);
    assertThat(poll(broker, "b1")).containsExactly(parked.id());
    broker.claim("b1", parked.id());
    return parked;
  }

  private List<String> poll(RequestBroker broker, String backend) throws Exception {
    return broker.awaitPending(backend, Duration.ofMillis(50)).get(10, TimeUnit.SECONDS);
  }

  // ------------------------------------------------------------------ the contract

  @Test
  @DisplayName("a submitted request is offered, claimed with its body, and answered")
  void roundTrip() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1", "POST", "/upload?x=1");
    Recorder recorder = new Recorder();
    broker.submit(parked, text("request body"), recorder);

    assertThat(poll(broker, "b1")).containsExactly(parked.id());
    ClaimedRequest claimed = broker.claim("b1", parked.id());
    assertThat(claimed.request().head()).isEqualTo(parked.head());
    assertThat(claimed.request().id()).isEqualTo(parked.id());
    assertThat(readAll(claimed.body())).isEqualTo("request body");

    assertThat(broker.awaitingResponse("b1", parked.id()).head().method()).isEqualTo("POST");
    broker.deliver("b1", parked.id(), ok(), text("hello"));
    assertThat(recorder.head.get(5, TimeUnit.SECONDS).status()).isEqualTo(200);
    assertThat(recorder.body.get(5, TimeUnit.SECONDS)).isEqualTo("hello");
    assertThat(recorder.calls).hasValue(1);
  }

  @Test
  @DisplayName("a response's head reaches the client before its body, which streams as it comes")
  void responseStreamsAsItComes() throws Exception {
    RequestBroker broker = storage.broker();
    Recorder recorder = new Recorder();
    ParkedRequest parked = submittedAndClaimed(broker, recorder);

    // A small body of known length whose bytes come late: "hel" once released, then "lo".
    CountDownLatch first = new CountDownLatch(1);
    CountDownLatch rest = new CountDownLatch(1);
    InputStream slow =
        new InputStream() {
          private final byte[] bytes = "hello".getBytes(StandardCharsets.UTF_8);
          private int position;

          @Override
          public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            if (position == bytes.length) {
              return -1;
            }
            await(position == 0 ? first : rest);
            int end = position < 3 ? 3 : bytes.length;
            int n = Math.min(len, end - position);
            System.arraycopy(bytes, position, b, off, n);
            position += n;
            return n;
          }

          private void await(CountDownLatch latch) throws IOException {
            try {
              if (!latch.await(20, TimeUnit.SECONDS)) {
                throw new IOException("the test never released the bytes");
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new InterruptedIOException();
            }
          }
        };
    CompletableFuture<Void> delivered =
        CompletableFuture.runAsync(
            () -> {
              try {
                broker.deliver("b1", parked.id(), ok(), MessageBody.of(slow, 5, Headers::empty));
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            });
    // The head does not wait for the body's first byte.
    assertThat(recorder.head.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
    first.countDown();
    assertThat(recorder.body).isNotDone();
    rest.countDown();
    assertThat(recorder.body.get(10, TimeUnit.SECONDS)).isEqualTo("hello");
    delivered.get(10, TimeUnit.SECONDS);
  }

  @Test
  @DisplayName("an empty poll returns no IDs when its wait ends")
  void emptyPollReturnsAtTimeout() throws Exception {
    CompletableFuture<List<String>> ids =
        storage.broker().awaitPending("idle", Duration.ofMillis(200));
    assertThat(ids.get(10, TimeUnit.SECONDS)).isEmpty();
  }

  @Test
  @DisplayName("a waiting poll is woken by a new request")
  void waitingPollIsWoken() throws Exception {
    CompletableFuture<List<String>> ids =
        storage.broker().awaitPending("b1", Duration.ofSeconds(20));
    assertThat(ids).isNotDone();
    ParkedRequest parked = request("b1");
    storage.broker().submit(parked, MessageBody.empty(), new Recorder());
    assertThat(ids.get(10, TimeUnit.SECONDS)).containsExactly(parked.id());
  }

  @Test
  @DisplayName("a bounded poll takes at most its bound; the other requests stay for other polls")
  void boundedPollLeavesTheRest() throws Exception {
    RequestBroker broker = storage.broker();
    Set<String> submitted = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      ParkedRequest parked = request("b1");
      submitted.add(parked.id());
      broker.submit(parked, MessageBody.empty(), new Recorder());
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      List<String> ids = broker.awaitPending("b1", Duration.ofSeconds(5), 1).get(10, TimeUnit.SECONDS);
      assertThat(ids).hasSize(1);
      seen.addAll(ids);
    }
    assertThat(seen).isEqualTo(submitted);
    assertThat(broker.awaitPending("b1", Duration.ofMillis(100), 1).get(10, TimeUnit.SECONDS))
        .isEmpty();
  }

  @Test
  @DisplayName("waiting bounded polls share a burst of requests, one each")
  void waitingBoundedPollsShareABurst() throws Exception {
    RequestBroker broker = storage.broker();
    List<CompletableFuture<List<String>>> polls = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      polls.add(broker.awaitPending("b1", Duration.ofSeconds(20), 1));
    }
    Set<String> submitted = new HashSet<>();
    for (int i = 0; i < 4; i++) {
      ParkedRequest parked = request("b1");
      submitted.add(parked.id());
      broker.submit(parked, MessageBody.empty(), new Recorder());
    }
    Set<String> seen = new HashSet<>();
    for (CompletableFuture<List<String>> poll : polls) {
      List<String> ids = poll.get(10, TimeUnit.SECONDS);
      assertThat(ids).hasSize(1);
      seen.addAll(ids);
    }
    assertThat(seen).isEqualTo(submitted);
  }

  @Test
  @DisplayName("requests are offered only to their own backend's polls")
  void backendsAreIsolated() throws Exception {
    ParkedRequest forA = request("a");
    storage.broker().submit(forA, MessageBody.empty(), new Recorder());
    assertThat(poll(storage.broker(), "b")).isEmpty();
    assertThatThrownBy(() -> storage.broker().claim("b", forA.id()))
        .isInstanceOf(UnknownRequestException.class);
    assertThat(poll(storage.broker(), "a")).containsExactly(forA.id());
  }

  @Test
  @DisplayName("exactly one of several concurrent polls gets each request")
  void eachRequestOfferedOnce() throws Exception {
    RequestBroker broker = storage.broker();
    int pollers = 8;
    int requests = 200;
    Set<String> submitted = ConcurrentHashMap.newKeySet();
    List<String> offered = new CopyOnWriteArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(pollers);
    CountDownLatch started = new CountDownLatch(pollers);
    try {
      for (int i = 0; i < pollers; i++) {
        pool.execute(
            () -> {
              started.countDown();
              long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
              while (offered.size() < requests && System.nanoTime() < deadline) {
                try {
                  offered.addAll(
                      broker.awaitPending("shared", Duration.ofMillis(100)).get(10, TimeUnit.SECONDS));
                } catch (Exception e) {
                  return;
                }
              }
            });
      }
      started.await();
      for (int i = 0; i < requests; i++) {
        ParkedRequest parked = request("shared");
        submitted.add(parked.id());
        broker.submit(parked, MessageBody.empty(), new Recorder());
      }
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    } finally {
      pool.shutdownNow();
    }
    assertThat(offered).hasSize(requests).doesNotHaveDuplicates();
    assertThat(new HashSet<>(offered)).isEqualTo(submitted);
  }

  @Test
  @DisplayName("responses correlate with their own requests")
  void responsesCorrelate() throws Exception {
    RequestBroker broker = storage.broker();
    List<ParkedRequest> parked = new ArrayList<>();
    List<Recorder> recorders = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ParkedRequest each = request("b1", "GET", "/" + i);
      Recorder recorder = new Recorder();
      broker.submit(each, MessageBody.empty(), recorder);
      parked.add(each);
      recorders.add(recorder);
    }
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      order.add(i);
    }
    Collections.shuffle(order);
    for (int i : order) {
      String target = broker.claim("b1", parked.get(i).id()).request().head().target();
      broker.deliver(
          "b1",
          parked.get(i).id(),
          new ResponseHead("HTTP/1.1", 200, "OK", Headers.empty()),
          text("answer to " + target));
    }
    for (int i = 0; i < 20; i++) {
      assertThat(recorders.get(i).body.get(5, TimeUnit.SECONDS)).isEqualTo("answer to /" + i);
    }
  }

  @Test
  @DisplayName("a second response is refused and the first is unaffected")
  void duplicateResponseRefused() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1");
    Recorder recorder = new Recorder();
    broker.submit(parked, MessageBody.empty(), recorder);
    broker.claim("b1", parked.id());
    broker.deliver("b1", parked.id(), ok(), text("first"));
    assertThatThrownBy(() -> broker.deliver("b1", parked.id(), ok(), text("again")))
        .isInstanceOf(DuplicateResponseException.class);
    assertThatThrownBy(() -> broker.awaitingResponse("b1", parked.id()))
        .isInstanceOf(DuplicateResponseException.class);
    assertThat(recorder.body.get(5, TimeUnit.SECONDS)).isEqualTo("first");
    assertThat(recorder.calls).hasValue(1);
  }

  @Test
  @DisplayName("the memory of answered requests expires: later it is an unknown request")
  void answeredMemoryExpires() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1");
    broker.submit(parked, MessageBody.empty(), new Recorder());
    broker.deliver("b1", parked.id(), ok(), text("first"));
    clock.advance(options().answeredMemory().plusSeconds(1));
    // Any later delivery moves expiry along; then the old ID is simply unknown.
    ParkedRequest later = request("b1");
    broker.submit(later, MessageBody.empty(), new Recorder());
    broker.deliver("b1", later.id(), ok(), text("later"));
    assertThatThrownBy(() -> broker.deliver("b1", parked.id(), ok(), text("again")))
        .isInstanceOf(UnknownRequestException.class);
  }

  @Test
  @DisplayName("unknown IDs and wrong backends are refused as unknown")
  void unknownIds() {
    RequestBroker broker = storage.broker();
    assertThatThrownBy(() -> broker.claim("b1", "nope")).isInstanceOf(UnknownRequestException.class);
    assertThatThrownBy(() -> broker.deliver("b1", "nope", ok(), text("x")))
        .isInstanceOf(UnknownRequestException.class);
    assertThatThrownBy(() -> broker.awaitingResponse("b1", "nope"))
        .isInstanceOf(UnknownRequestException.class);
  }

  @Test
  @DisplayName("a cancelled request is never offered, claimed or answered")
  void cancelledRequestDisappears() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1");
    Recorder recorder = new Recorder();
    PendingExchange exchange = broker.submit(parked, MessageBody.empty(), recorder);
    assertThat(exchange.id()).isEqualTo(parked.id());
    assertThat(exchange.cancel()).isTrue();
    assertThat(exchange.cancel()).isTrue();
    assertThat(poll(broker, "b1")).isEmpty();
    assertThatThrownBy(() -> broker.claim("b1", parked.id()))
        .isInstanceOf(UnknownRequestException.class);
    assertThatThrownBy(() -> broker.deliver("b1", parked.id(), ok(), text("x")))
        .isInstanceOf(UnknownRequestException.class);
    assertThat(recorder.calls).hasValue(0);
  }

  @Test
  @DisplayName("a request whose response started cannot be cancelled")
  void cancelAfterResponseRefused() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1");
    PendingExchange exchange = broker.submit(parked, MessageBody.empty(), new Recorder());
    broker.deliver("b1", parked.id(), ok(), text("hello"));
    assertThat(exchange.cancel()).isFalse();
  }

  @Test
  @DisplayName("an offered but unclaimed request is offered again after the re-offer delay")
  void unclaimedIsReoffered() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1");
    broker.submit(parked, MessageBody.empty(), new Recorder());
    assertThat(poll(broker, "b1")).containsExactly(parked.id());
    assertThat(poll(broker, "b1")).isEmpty();
    clock.advance(options().reofferDelay().plusMillis(1));
    assertThat(poll(broker, "b1")).containsExactly(parked.id());
    broker.claim("b1", parked.id());
    clock.advance(options().reofferDelay().plusMillis(1));
    assertThat(poll(broker, "b1")).isEmpty();
  }

  @Test
  @DisplayName("a read may be repeated until the body starts streaming, then it is a conflict")
  void repeatedClaim() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1", "POST", "/");
    broker.submit(parked, text("abc"), new Recorder());
    broker.claim("b1", parked.id());
    ClaimedRequest second = broker.claim("b1", parked.id());
    assertThat(second.body().stream().read()).isEqualTo('a');
    assertThatThrownBy(() -> broker.claim("b1", parked.id()))
        .isInstanceOf(RequestConflictException.class);
  }

  @Test
  @DisplayName("a request given back by a failed agent is offered again once, then fails")
  void releasedRequestIsOfferedAgainOnce() throws Exception {
    RequestBroker broker = storage.broker();
    Recorder recorder = new Recorder();
    ParkedRequest parked = submittedAndClaimed(broker, recorder);
    CompletableFuture<List<String>> waiting = broker.awaitPending("b1", Duration.ofSeconds(20));
    assertThat(broker.release("b1", parked.id(), new AgentFailedException("agent died"))).isTrue();
    assertThat(waiting.get(10, TimeUnit.SECONDS)).containsExactly(parked.id());
    broker.claim("b1", parked.id());
    assertThat(broker.release("b1", parked.id(), new AgentFailedException("agent died again")))
        .isFalse();
    assertThat(recorder.failure.get(5, TimeUnit.SECONDS))
        .isInstanceOf(AgentFailedException.class)
        .hasMessage("agent died again");
    assertThatThrownBy(() -> broker.claim("b1", parked.id()))
        .isInstanceOf(UnknownRequestException.class);
  }

  @Test
  @DisplayName("a request whose body already streamed is not offered again: it fails")
  void releasedAfterBodyStreamedFails() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest parked = request("b1", "POST", "/");
    Recorder recorder = new Recorder();
    broker.submit(parked, text("abc"), recorder);
    assertThat(broker.claim("b1", parked.id()).body().stream().read()).isEqualTo('a');
    assertThat(broker.release("b1", parked.id(), new AgentFailedException("agent died"))).isFalse();
    assertThat(recorder.failure.get(5, TimeUnit.SECONDS)).isInstanceOf(AgentFailedException.class);
    // releasing what is not claimed does nothing
    assertThat(broker.release("b1", "unknown", new AgentFailedException("x"))).isFalse();
  }

  @Test
  @DisplayName("cancel notices name the claimed requests whose clients left, each once")
  void cancelNotices() throws Exception {
    RequestBroker broker = storage.broker();
    ParkedRequest claimed = request("b1");
    ParkedRequest waiting = request("b1");
    PendingExchange claimedExchange = broker.submit(claimed, MessageBody.empty(), new Recorder());
    PendingExchange waitingExchange = broker.submit(waiting, MessageBody.empty(), new Recorder());
    broker.claim("b1", claimed.id());
    CompletableFuture<List<String>> notices = broker.awaitCancelled("b1", Duration.ofSeconds(20));
    assertThat(notices).isNotDone();
    waitingExchange.cancel(); // no agent holds it: nothing to tell
    claimedExchange.cancel();
    assertThat(notices.get(10, TimeUnit.SECONDS)).containsExactly(claimed.id());
    assertThat(broker.awaitCancelled("b1", Duration.ofMillis(50)).get(10, TimeUnit.SECONDS))
        .isEmpty();
    assertThat(broker.awaitCancelled("b2", Duration.ofMillis(50)).get(10, TimeUnit.SECONDS))
        .isEmpty();
  }

  @Test
  @DisplayName("a full backend queue refuses new requests with 503")
  void queueLimit() {
    Storage limited = open(options().withMaxPendingPerBackend(3));
    for (int i = 0; i < 3; i++) {
      limited.broker().submit(request("b1"), MessageBody.empty(), new Recorder());
    }
    assertThatThrownBy(
            () -> limited.broker().submit(request("b1"), MessageBody.empty(), new Recorder()))
        .isInstanceOfSatisfying(
            LimitExceededException.class,
            e -> {
              // However the storage says it (QueueFullException, or the 0.1 constructor with 503):
              // the proxy answers 503 with Retry-After.
              assertThat(ErrorMapping.status(e)).isEqualTo(503);
              assertThat(ErrorMapping.answer(e).headers().first("Retry-After")).isPresent();
            });
    // another backend is not affected
    limited.broker().submit(request("b2"), MessageBody.empty(), new Recorder());
  }

  @Test
  @DisplayName("close() fails pending requests, ends waiting polls, and is idempotent")
  void closeIsIdempotent() throws Exception {
    Storage closing = open(options());
    Recorder recorder = new Recorder();
    closing.broker().submit(request("b1"), MessageBody.empty(), recorder);
    CompletableFuture<List<String>> waiting =
        closing.broker().awaitPending("b2", Duration.ofSeconds(20));
    closing.close();
    closing.close();
    assertThat(recorder.failure.get(5, TimeUnit.SECONDS)).isInstanceOf(StorageException.class);
    assertThat(waiting.get(5, TimeUnit.SECONDS)).isEmpty();
  }

  @Test
  @DisplayName("the registry creates, lists, reads and deletes records")
  void registryRecords() {
    var registry = storage.registry();
    registry.put(new BackendRecord("b", Set.of("agent@x"), Set.of("allUsers"), List.of("/"), null));
    registry.put(new BackendRecord("a", Set.of("agent@y"), Set.of("u@x"), List.of("/a"), null));
    assertThat(registry.list()).extracting(BackendRecord::id).containsExactly("a", "b");
    assertThat(registry.get("a")).get().extracting(BackendRecord::pathPrefixes).isEqualTo(List.of("/a"));
    assertThat(registry.delete("a")).isTrue();
    assertThat(registry.delete("a")).isFalse();
    assertThat(registry.get("a")).isEmpty();
  }

  @Test
  @DisplayName("the registry tracks agent liveness and last use, registered or not")
  void registryLiveness() {
    var registry = storage.registry();
    Instant t1 = Instant.parse("2026-01-01T00:00:10Z");
    Instant t2 = Instant.parse("2026-01-01T00:00:20Z");
    assertThat(registry.lastSeen("x")).isEmpty();
    registry.agentSeen("x", t2);
    registry.agentSeen("x", t1); // older news never moves it back
    assertThat(registry.lastSeen("x")).contains(t2);
    registry.put(new BackendRecord("x", Set.of(), Set.of("allUsers"), List.of("/"), null));
    registry.used("x", t1);
    assertThat(registry.get("x")).get().extracting(BackendRecord::lastUsed).isEqualTo(t1);
  }

  @Test
  @DisplayName("an agent that leaves no longer counts; the backend's other agents still do")
  void registryAgentLeaves() {
    var registry = storage.registry();
    Instant t1 = Instant.parse("2026-01-01T00:00:10Z");
    Instant t2 = Instant.parse("2026-01-01T00:00:20Z");
    Instant t3 = Instant.parse("2026-01-01T00:00:30Z");
    registry.agentSeen("x", "agent-a", t2);
    registry.agentSeen("x", "agent-b", t1);
    assertThat(registry.lastSeen("x")).contains(t2);
    registry.agentLeft("x", "agent-a", t3);
    assertThat(registry.lastSeen("x")).contains(t1); // agent-b's last poll
    registry.agentSeen("x", "agent-a", t3); // a late record of the agent that left
    assertThat(registry.lastSeen("x")).contains(t1);
    registry.agentLeft("x", "agent-b", t3);
    assertThat(registry.lastSeen("x")).isEmpty();
    registry.agentSeen("x", "agent-c", t3); // a new agent of the same backend
    assertThat(registry.lastSeen("x")).contains(t3);
    assertThat(registry.lastSeen("y")).isEmpty(); // other backends are untouched
  }

  @Test
  @DisplayName("a goodbye is announced to every node; the same agent ID counts again a while after")
  void registryAnnouncesAgentsLeaving() throws Exception {
    var registry = storage.registry();
    java.util.concurrent.LinkedBlockingQueue<String> heard = new java.util.concurrent.LinkedBlockingQueue<>();
    registry.whenAgentLeaves((backend, agent) -> heard.add(backend + " " + agent));
    Storage peer = null;
    java.util.concurrent.LinkedBlockingQueue<String> heardByPeer =
        new java.util.concurrent.LinkedBlockingQueue<>();
    if (capabilities().contains(Capability.MULTI_NODE)) {
      peer = newPeer(storage, options());
      opened.add(peer);
      peer.registry().whenAgentLeaves((backend, agent) -> heardByPeer.add(backend + " " + agent));
    }
    Instant t1 = Instant.parse("2026-01-01T00:00:10Z");
    registry.agentSeen("x", "agent-a", t1);
    registry.agentLeft("x", "agent-a", t1.plusSeconds(1));
    assertThat(heard.poll(5, TimeUnit.SECONDS)).isEqualTo("x agent-a");
    if (peer != null) {
      assertThat(heardByPeer.poll(5, TimeUnit.SECONDS)).isEqualTo("x agent-a");
    }
    // Within a minute of its goodbye a record of that agent is a late one: ignored. Later, the
    // same ID (an agent that names itself the same after a restart) counts again.
    registry.agentSeen("x", "agent-a", t1.plusSeconds(30));
    assertThat(registry.lastSeen("x")).isEmpty();
    registry.agentSeen("x", "agent-a", t1.plusSeconds(120));
    assertThat(registry.lastSeen("x")).contains(t1.plusSeconds(120));
  }

  @Test
  @DisplayName("agents that do not name themselves count until their polls age out")
  void registryUnnamedAgents() {
    var registry = storage.registry();
    Instant t1 = Instant.parse("2026-01-01T00:00:10Z");
    Instant t2 = Instant.parse("2026-01-01T00:00:20Z");
    registry.agentSeen("x", t1); // the reference agent: no agent ID
    registry.agentSeen("x", "agent-a", t2);
    registry.agentLeft("x", "agent-a", t2);
    assertThat(registry.lastSeen("x")).contains(t1);
  }

  @Test
  @DisplayName("with several nodes, a request submitted on one is served from another")
  void crossNode() throws Exception {
    require(Capability.MULTI_NODE);
    Storage peer = newPeer(storage, options());
    opened.add(peer);
    ParkedRequest parked = request("b1");
    Recorder recorder = new Recorder();
    storage.broker().submit(parked, text("x"), recorder);
    assertThat(poll(peer.broker(), "b1")).containsExactly(parked.id());
    assertThat(readAll(peer.broker().claim("b1", parked.id()).body())).isEqualTo("x");
    peer.broker().deliver("b1", parked.id(), ok(), text("hello"));
    assertThat(recorder.body.get(10, TimeUnit.SECONDS)).isEqualTo("hello");
  }
}
