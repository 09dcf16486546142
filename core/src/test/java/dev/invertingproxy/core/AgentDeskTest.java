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
import dev.invertingproxy.UnknownRequestException;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import dev.invertingproxy.core.spi.AgentCall;
import dev.invertingproxy.core.spi.NextRequest;
import dev.invertingproxy.spi.Storage;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The agent side's next poll against a broker that hands over more IDs than it was asked for. */
class AgentDeskTest {

  @Test
  @DisplayName("a next poll asks for one ID, claims the first claimable of those it got and keeps none")
  void nextPollClaimsTheFirstClaimableAndKeepsNone() throws Exception {
    GenerousStorage storage = new GenerousStorage();
    storage.answers.add(CompletableFuture.completedFuture(List.of("gone", "r1", "r2")));
    CompletableFuture<List<String>> secondPoll = new CompletableFuture<>();
    storage.answers.add(secondPoll);
    try (ProxyEngine engine =
        ProxyEngine.builder()
            .storage(storage)
            .backend("b1")
            .agentAuthenticator(AgentAuthenticator.anonymous())
            .build()) {
      AgentCall call = new AgentCall(Headers.of(ProtocolHeaders.BACKEND_ID, "b1"));

      Optional<NextRequest> first = engine.next(call).get();

      assertThat(first).map(NextRequest::id).contains("r1");
      assertThat(storage.claims).containsExactly("gone", "r1"); // r2 is not claimed
      assertThat(storage.maxIds).containsExactly(1);

      // The next poll asks the broker again: r2 was not kept on this node (it stays pending, and
      // the broker offers it again).
      CompletableFuture<Optional<NextRequest>> second = engine.next(call);
      assertThat(storage.maxIds).containsExactly(1, 1);
      assertThat(second).isNotDone();
      assertThat(storage.claims).containsExactly("gone", "r1");
      second.cancel(false);
      assertThat(secondPoll).isCancelled();
    }
  }

  /**
   * A broker that ignores the bound of {@code awaitPending}: it answers each poll with the next of
   * {@link #answers}, and knows every ID but {@code gone}.
   */
  private static final class GenerousStorage implements Storage, RequestBroker, BackendRegistry {
    final List<CompletableFuture<List<String>>> answers = new CopyOnWriteArrayList<>();
    final List<Integer> maxIds = new CopyOnWriteArrayList<>();
    final List<String> claims = new CopyOnWriteArrayList<>();

    @Override
    public CompletableFuture<List<String>> awaitPending(String backendId, Duration maxWait, int max) {
      maxIds.add(max);
      return answers.remove(0);
    }

    @Override
    public CompletableFuture<List<String>> awaitPending(String backendId, Duration maxWait) {
      throw new UnsupportedOperationException("a next poll asks with a bound");
    }

    @Override
    public ClaimedRequest claim(String backendId, String requestId) {
      claims.add(requestId);
      if (requestId.equals("gone")) {
        throw new UnknownRequestException("request " + requestId + " is gone");
      }
      ParkedRequest request =
          new ParkedRequest(
              requestId,
              backendId,
              new RequestHead("GET", "/", "HTTP/1.1", Headers.of("Host", "public.example")),
              Instant.now(),
              null);
      return new ClaimedRequest(request, MessageBody.empty());
    }

    @Override
    public PendingExchange submit(ParkedRequest request, MessageBody body, ResponseListener listener) {
      throw new UnsupportedOperationException();
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
      return Optional.empty();
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
