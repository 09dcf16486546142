package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.spi.Storage;
import java.lang.reflect.Proxy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RegistryRouterTest {
  private static final Instant NOW = Instant.parse("2025-01-01T12:00:00Z");
  private static final Duration WINDOW = Duration.ofSeconds(30);
  private static final String ALL = BackendRecord.ALL_USERS;

  private final MapRegistry registry = new MapRegistry();
  private final RegistryRouter router =
      RegistryRouter.of(registry, WINDOW, Clock.fixed(NOW, ZoneOffset.UTC));

  // ------------------------------------------------------------ path prefixes

  @ParameterizedTest(name = "prefix {0} vs path {1} -> {2}")
  @CsvSource({
    "/foo, /foo, true",
    "/foo, /foo/, true",
    "/foo, /foo/bar, true",
    "/foo, /foo/bar/baz, true",
    "/foo, /foobar, false",
    "/foo, /fo, false",
    "/foo, /, false",
    "/foo/, /foo, true",
    "/foo/, /foo/bar, true",
    "/foo/, /foobar, false",
    "/, /, true",
    "/, /anything/at/all, true",
    "/, *, true",
    "foo, /foo, false",
    "/a/b, /a/b/c, true",
    "/a/b, /a/bc, false",
    "/a, /a%2Fb, false",
    "/a%2Fb, /a%2Fb/c, true",
    "/a%2Fb, /a/b, false",
    "/caf%C3%A9, /caf%c3%a9, false",
  })
  void matchesOnSegmentBoundaries(String prefix, String path, boolean matches) {
    assertThat(RegistryRouter.matchLength(prefix, path) >= 0).isEqualTo(matches);
  }

  @Test
  void segmentBoundaryThroughTheRouter() {
    put("foo", ALL, "/foo");
    put("root", ALL, "/");

    assertThat(resolve(null, "/foo")).contains("foo");
    assertThat(resolve(null, "/foo/")).contains("foo");
    assertThat(resolve(null, "/foo/bar")).contains("foo");
    assertThat(resolve(null, "/foobar")).contains("root");
  }

  @Test
  void longestPrefixWins() {
    put("a-root", ALL, "/");
    put("b-api", ALL, "/api");
    put("c-api-v2", ALL, "/api/v2");

    assertThat(resolve(null, "/")).contains("a-root");
    assertThat(resolve(null, "/api/v1/users")).contains("b-api");
    assertThat(resolve(null, "/api/v2/users")).contains("c-api-v2");
    assertThat(resolve(null, "/api/v2")).contains("c-api-v2");
    assertThat(resolve(null, "/api/v20")).contains("b-api");
  }

  @Test
  void aRecordsLongestPrefixCountsAmongSeveral() {
    registry.put(record("multi", Set.of(ALL), List.of("/x", "/docs/guide")));
    put("docs", ALL, "/docs");

    assertThat(resolve(null, "/docs/guide/intro")).contains("multi");
    assertThat(resolve(null, "/docs/other")).contains("docs");
    assertThat(resolve(null, "/x/1")).contains("multi");
  }

  @Test
  void queryIsIgnored() {
    put("foo", ALL, "/foo");

    assertThat(resolve(null, "/foo?x=/bar")).contains("foo");
    assertThat(resolve(null, "/foo/?")).contains("foo");
    assertThat(resolve(null, "/foobar?/foo")).isEmpty();
    assertThat(resolve(null, "/other?path=/foo")).isEmpty();
  }

  @Test
  void percentEncodedPathsAreComparedRaw() {
    put("encoded", ALL, "/a%2Fb");
    put("plain", ALL, "/a");

    assertThat(resolve(null, "/a%2Fb/c")).contains("encoded");
    assertThat(resolve(null, "/a/b")).contains("plain");
    // %2F is no segment boundary: "/a%2Fc" is not under "/a"
    assertThat(resolve(null, "/a%2Fc")).isEmpty();
    // not decoded: %61 is not "a"
    assertThat(resolve(null, "/%61/b")).isEmpty();
  }

  @Test
  void absoluteFormTargetIsReducedToItsPath() {
    put("foo", ALL, "/foo");

    assertThat(RegistryRouter.path("http://example.com/foo/bar?q")).isEqualTo("/foo/bar");
    assertThat(RegistryRouter.path("http://example.com")).isEqualTo("/");
    assertThat(RegistryRouter.path("http://example.com?q=/x")).isEqualTo("/");
    assertThat(resolve(null, "http://example.com/foo/bar")).contains("foo");
  }

  // ------------------------------------------------------------ users

  @Test
  void exactUserBeatsAllUsers() {
    put("shared", ALL, "/");
    put("alice-laptop", "alice", "/");
    seen("shared", "alice-laptop");

    assertThat(resolve("alice", "/x")).contains("alice-laptop");
    assertThat(resolve("bob", "/x")).contains("shared");
    assertThat(resolve(null, "/x")).contains("shared");
  }

  @Test
  void perUserMatchBeatsALongerSharedMatch() {
    put("shared-api", ALL, "/api");
    put("alice-laptop", "alice", "/");
    seen("shared-api", "alice-laptop");

    assertThat(resolve("alice", "/api/x")).contains("alice-laptop");
  }

  @Test
  void userIdentityMustMatchExactly() {
    put("alice-laptop", "alice", "/");

    assertThat(resolve("Alice", "/")).isEmpty();
    assertThat(resolve("alice2", "/")).isEmpty();
    assertThat(resolve(null, "/")).isEmpty();
    assertThat(resolve("alice", "/")).contains("alice-laptop");
  }

  @Test
  void perUserRecordThatDoesNotMatchThePathFallsToShared() {
    put("alice-app", "alice", "/app");
    put("shared", ALL, "/");
    seen("shared");

    assertThat(resolve("alice", "/other")).contains("shared");
  }

  @Test
  void stalePerUserBackendFallsBackToALiveSharedOne() {
    put("alice-laptop", "alice", "/");
    put("shared", ALL, "/");
    seen("shared");
    registry.agentSeen("alice-laptop", NOW.minus(WINDOW).minusMillis(1));

    assertThat(resolve("alice", "/x")).contains("shared");
  }

  @Test
  void perUserBackendNeverSeenFallsBackToALiveSharedOne() {
    put("alice-laptop", "alice", "/");
    put("shared", ALL, "/");
    seen("shared");

    assertThat(resolve("alice", "/x")).contains("shared");
  }

  @Test
  void perUserBackendSeenExactlyAtTheWindowEdgeIsLive() {
    put("alice-laptop", "alice", "/");
    put("shared", ALL, "/");
    seen("shared");
    registry.agentSeen("alice-laptop", NOW.minus(WINDOW));

    assertThat(resolve("alice", "/x")).contains("alice-laptop");
  }

  @Test
  void stalePerUserBackendIsKeptWhenTheSharedOneIsStaleToo() {
    put("alice-laptop", "alice", "/");
    put("shared", ALL, "/");

    assertThat(resolve("alice", "/x")).contains("alice-laptop"); // the engine answers 503
  }

  @Test
  void stalePerUserBackendIsKeptWhenNoSharedOneMatches() {
    put("alice-laptop", "alice", "/");
    put("shared-api", ALL, "/api");
    seen("shared-api");

    assertThat(resolve("alice", "/x")).contains("alice-laptop");
  }

  @Test
  void staleSharedMatchIsStillReturned() {
    put("shared", ALL, "/");

    assertThat(resolve(null, "/x")).contains("shared"); // the engine answers 503
  }

  @Test
  void recordForAUserAndEveryoneServesBoth() {
    registry.put(record("both", Set.of("alice", ALL), List.of("/")));

    assertThat(resolve("alice", "/")).contains("both");
    assertThat(resolve("bob", "/")).contains("both");
  }

  // ------------------------------------------------------------ no match, ties

  @Test
  void noMatchIsEmpty() {
    assertThat(resolve(null, "/")).isEmpty();

    put("foo", ALL, "/foo");
    put("bob-only", "bob", "/");
    registry.put(record("no-prefixes", Set.of(ALL), List.of()));
    registry.put(record("nobody", Set.of(), List.of("/")));

    assertThat(resolve(null, "/bar")).isEmpty();
    assertThat(resolve("alice", "/bar")).isEmpty();
  }

  @Test
  void tiesGoToTheSmallestIdWhateverTheListingOrder() {
    registry.reverseListing = true;
    put("b", ALL, "/api");
    put("a", ALL, "/api/");
    put("c", ALL, "/api");
    put("u-z", "alice", "/");
    put("u-y", "alice", "/");

    for (int i = 0; i < 3; i++) {
      assertThat(resolve(null, "/api/x")).contains("a");
      assertThat(resolve("alice", "/api/x")).contains("u-y");
    }
    registry.reverseListing = false;
    assertThat(resolve(null, "/api/x")).contains("a");
    assertThat(resolve("alice", "/api/x")).contains("u-y");
  }

  @Test
  void readsTheRegistryOnEveryRequest() {
    assertThat(resolve(null, "/x")).isEmpty();
    put("late", ALL, "/");
    assertThat(resolve(null, "/x")).contains("late");
    registry.delete("late");
    assertThat(resolve(null, "/x")).isEmpty();
  }

  @Test
  void factoryRejectsBadArguments() {
    Clock clock = Clock.systemUTC();
    assertThatThrownBy(() -> RegistryRouter.of(null, WINDOW, clock))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> RegistryRouter.of(registry, Duration.ZERO, clock))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RegistryRouter.of(registry, WINDOW, null))
        .isInstanceOf(NullPointerException.class);
    assertThat(RegistryRouter.of(registry, WINDOW, clock).livenessWindow()).isEqualTo(WINDOW);
  }

  // ------------------------------------------------------------ ProxyEngine.routeByRegistry

  @Test
  void engineRoutesByItsStoragesRegistry() {
    AtomicReference<String> submitted = new AtomicReference<>();
    try (ProxyEngine engine =
        ProxyEngine.builder()
            .storage(storage(submitted))
            .routeByRegistry()
            .longPollTimeout(Duration.ofSeconds(20))
            .livenessGrace(Duration.ofSeconds(5))
            .clock(Clock.fixed(NOW, ZoneOffset.UTC))
            .build()) {
      put("alice-laptop", "alice", "/");
      put("shared", ALL, "/app");

      assertThat(status(engine, "alice", "/nothing-here")).isEqualTo(503); // alice's own, stale
      StubExchange unknown = exchange(null, "/nothing-here");
      engine.handle(unknown);
      assertThat(unknown.status.get()).isEqualTo(404);

      StubExchange stale = exchange(null, "/app/x");
      engine.handle(stale);
      assertThat(stale.status.get()).isEqualTo(503);

      // within long poll + grace (25 s, plus 1 s as presence is recorded once a second) the
      // shared backend is live; alice's is 27 s old: stale
      registry.agentSeen("shared", NOW.minusSeconds(26));
      registry.agentSeen("alice-laptop", NOW.minusSeconds(27));
      engine.handle(exchange("alice", "/app/x"));
      assertThat(submitted.get()).isEqualTo("shared");

      registry.agentSeen("alice-laptop", NOW.minusSeconds(24));
      engine.handle(exchange("alice", "/app/x"));
      assertThat(submitted.get()).isEqualTo("alice-laptop");
    }
  }

  @Test
  void backendAndResolverStillWorkAndTheLastChoiceWins() {
    AtomicReference<String> submitted = new AtomicReference<>();
    registry.agentSeen("fixed", NOW);
    try (ProxyEngine engine =
        ProxyEngine.builder()
            .storage(storage(submitted))
            .routeByRegistry()
            .backend("fixed")
            .clock(Clock.fixed(NOW, ZoneOffset.UTC))
            .build()) {
      engine.handle(exchange(null, "/x"));
      assertThat(submitted.get()).isEqualTo("fixed");
    }
    try (ProxyEngine engine =
        ProxyEngine.builder()
            .storage(storage(submitted))
            .backendResolver(client -> Optional.of("fixed"))
            .routeByRegistry()
            .clock(Clock.fixed(NOW, ZoneOffset.UTC))
            .build()) {
      StubExchange client = exchange(null, "/x");
      engine.handle(client);
      assertThat(client.status.get()).isEqualTo(404); // the registry has no records
    }
    assertThatThrownBy(() -> ProxyEngine.builder().storage(storage(submitted)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("routeByRegistry()");
  }

  // ------------------------------------------------------------ helpers

  private Optional<String> resolve(@Nullable String user, String target) {
    return router.resolve(exchange(user, target));
  }

  private int status(ProxyEngine engine, String user, String target) {
    StubExchange client = exchange(user, target);
    engine.handle(client);
    return client.status.get();
  }

  private void put(String id, String endUser, String prefix) {
    registry.put(record(id, Set.of(endUser), List.of(prefix)));
  }

  private void seen(String... ids) {
    for (String id : ids) {
      registry.agentSeen(id, NOW.minusSeconds(1));
    }
  }

  private static BackendRecord record(String id, Set<String> endUsers, List<String> prefixes) {
    return new BackendRecord(id, Set.of("agent"), endUsers, prefixes, null);
  }

  private static StubExchange exchange(@Nullable String user, String target) {
    return new StubExchange(new RequestHead("GET", target, "HTTP/1.1", Headers.of("Host", "h")), user);
  }

  /** A storage over {@link #registry} whose broker records the backend of a submit, then fails. */
  private Storage storage(AtomicReference<String> submitted) {
    RequestBroker broker =
        (RequestBroker)
            Proxy.newProxyInstance(
                RequestBroker.class.getClassLoader(),
                new Class<?>[] {RequestBroker.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("submit")) {
                    submitted.set(((ParkedRequest) args[0]).backendId());
                    throw new StorageException("test broker");
                  }
                  throw new UnsupportedOperationException(method.getName());
                });
    return new Storage() {
      @Override
      public BackendRegistry registry() {
        return registry;
      }

      @Override
      public RequestBroker broker() {
        return broker;
      }

      @Override
      public void close() {}
    };
  }

  /** Head and user only; records the status of a response. */
  private static final class StubExchange implements ClientExchange {
    private final RequestHead head;
    private final @Nullable String user;
    final AtomicInteger status = new AtomicInteger();

    StubExchange(RequestHead head, @Nullable String user) {
      this.head = head;
      this.user = user;
    }

    @Override
    public RequestHead head() {
      return head;
    }

    @Override
    public MessageBody body() {
      return MessageBody.empty();
    }

    @Override
    public String remoteAddress() {
      return "127.0.0.1";
    }

    @Override
    public String scheme() {
      return "http";
    }

    @Override
    public Optional<String> userId() {
      return Optional.ofNullable(user);
    }

    @Override
    public void respond(ResponseHead head, MessageBody body) {
      status.set(head.status());
    }
  }

  /** A ConcurrentHashMap registry; can list in reverse ID order to show ties do not depend on it. */
  private static final class MapRegistry implements BackendRegistry {
    private final Map<String, BackendRecord> records = new ConcurrentHashMap<>();
    private final Map<String, Instant> seen = new ConcurrentHashMap<>();
    volatile boolean reverseListing;

    @Override
    public void put(BackendRecord record) {
      records.put(record.id(), record);
    }

    @Override
    public Optional<BackendRecord> get(String backendId) {
      return Optional.ofNullable(records.get(backendId));
    }

    @Override
    public List<BackendRecord> list() {
      List<BackendRecord> all = new ArrayList<>(records.values());
      all.sort((a, b) -> a.id().compareTo(b.id()));
      if (reverseListing) {
        Collections.reverse(all);
      }
      return List.copyOf(all);
    }

    @Override
    public boolean delete(String backendId) {
      return records.remove(backendId) != null;
    }

    @Override
    public void agentSeen(String backendId, Instant time) {
      seen.put(backendId, time);
    }

    @Override
    public Optional<Instant> lastSeen(String backendId) {
      return Optional.ofNullable(seen.get(backendId));
    }

    @Override
    public void used(String backendId, Instant time) {}
  }
}
