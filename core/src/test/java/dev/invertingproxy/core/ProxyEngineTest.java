package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.ClaimedRequest;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.PendingExchange;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.ResponseListener;
import dev.invertingproxy.spi.Storage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The engine's own bookkeeping, against a storage that answers as fast as possible. */
class ProxyEngineTest {

  @Test
  @DisplayName("a request answered before submit returns leaves no call behind")
  void answeredBeforeSubmitReturns() {
    AtomicInteger answered = new AtomicInteger();
    try (ProxyEngine engine =
        ProxyEngine.builder()
            .storage(new InstantStorage())
            .backend("b1")
            .agentAuthenticator(AgentAuthenticator.anonymous())
            .build()) {
      for (int i = 0; i < 100; i++) {
        engine.handle(new Client(answered));
      }
      assertThat(answered.get()).isEqualTo(100);
      assertThat(engine.waitingCalls()).isZero();
    }
  }

  @Test
  @DisplayName("a storage's own limit (0.1 style, any status) is answered with Retry-After: 1")
  @SuppressWarnings("deprecation")
  void legacyStorageLimitGetsRetryAfter() {
    List<ResponseHead> heads = new java.util.concurrent.CopyOnWriteArrayList<>();
    InstantStorage limited =
        new InstantStorage() {
          @Override
          public PendingExchange submit(
              ParkedRequest request, MessageBody body, ResponseListener listener) {
            throw new dev.invertingproxy.LimitExceededException(429, "too many for this backend");
          }
        };
    try (ProxyEngine engine =
        ProxyEngine.builder()
            .storage(limited)
            .backend("b1")
            .agentAuthenticator(AgentAuthenticator.anonymous())
            .build()) {
      engine.handle(new Client(new AtomicInteger(), heads));
    }
    assertThat(heads).singleElement().satisfies(head -> {
      assertThat(head.status()).isEqualTo(429);
      assertThat(head.headers().all("Retry-After")).containsExactly("1");
    });
  }

  /** A client whose response is counted. */
  private record Client(AtomicInteger answered, List<ResponseHead> heads) implements ClientExchange {
    Client(AtomicInteger answered) {
      this(answered, new java.util.concurrent.CopyOnWriteArrayList<>());
    }

    @Override
    public RequestHead head() {
      return new RequestHead("GET", "/", "HTTP/1.1", Headers.of("Host", "public.example"));
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
      return Optional.empty();
    }

    @Override
    public void respond(ResponseHead head, MessageBody body) {
      heads.add(head);
      answered.incrementAndGet();
    }
  }

  /** Answers every request inside submit, as a very quick agent on another thread could. */
  private static class InstantStorage implements Storage, RequestBroker, BackendRegistry {
    @Override
    public PendingExchange submit(ParkedRequest request, MessageBody body, ResponseListener listener) {
      try {
        listener.onResponse(new ResponseHead("HTTP/1.1", 200, "OK", Headers.empty()), MessageBody.empty());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return new PendingExchange() {
        @Override
        public String id() {
          return request.id();
        }

        @Override
        public boolean cancel() {
          return false;
        }
      };
    }

    @Override
    public CompletableFuture<List<String>> awaitPending(String backendId, Duration maxWait) {
      return new CompletableFuture<>();
    }

    @Override
    public ParkedRequest awaitingResponse(String backendId, String requestId) {
      throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<List<String>> awaitCancelled(String backendId, Duration maxWait) {
      return new CompletableFuture<>();
    }

    @Override
    public ClaimedRequest claim(String backendId, String requestId) {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean release(String backendId, String requestId, InvertingProxyException failure) {
      return false;
    }

    @Override
    public void deliver(String backendId, String requestId, ResponseHead head, MessageBody body) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void put(BackendRecord record) {}

    @Override
    public Optional<BackendRecord> get(String backendId) {
      return Optional.empty();
    }

    @Override
    public List<BackendRecord> list() {
      return List.of();
    }

    @Override
    public boolean delete(String backendId) {
      return false;
    }

    @Override
    public void agentSeen(String backendId, Instant time) {}

    @Override
    public Optional<Instant> lastSeen(String backendId) {
      return Optional.of(Instant.now()); // an agent is always there
    }

    @Override
    public void used(String backendId, Instant time) {}

    @Override
    public BackendRegistry registry() {
      return this;
    }

    @Override
    public RequestBroker broker() {
      return this;
    }

    @Override
    public void close() {}
  }
}
