package dev.invertingproxy.storage.inmemory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.ResponseListener;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A poll bounded to one ID (the proxy's next polls) leaves the other requests for other polls. */
class BoundedPollTest {
  private static final ResponseListener IGNORED =
      new ResponseListener() {
        @Override
        public void onResponse(ResponseHead head, MessageBody body) {}

        @Override
        public void onFailure(InvertingProxyException cause) {}
      };

  @Test
  void eachBoundedPollGetsOneQueuedRequest() throws Exception {
    try (InMemoryStorage storage = InMemoryStorage.create()) {
      RequestBroker broker = storage.broker();
      for (int i = 0; i < 3; i++) {
        broker.submit(
            new ParkedRequest(
                "id-" + i,
                "b1",
                new RequestHead("GET", "/" + i, "HTTP/1.1", Headers.of("Host", "h")),
                Instant.now(),
                null),
            MessageBody.empty(),
            IGNORED);
      }
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < 3; i++) {
        List<String> ids = broker.awaitPending("b1", Duration.ofSeconds(5), 1).get(5, TimeUnit.SECONDS);
        assertThat(ids).hasSize(1);
        seen.addAll(ids);
      }
      assertThat(seen).containsExactlyInAnyOrder("id-0", "id-1", "id-2");
      // Nothing is left: the next bounded poll waits (and ends empty).
      assertThat(broker.awaitPending("b1", Duration.ofMillis(100), 1).get(5, TimeUnit.SECONDS)).isEmpty();
    }
  }
}
