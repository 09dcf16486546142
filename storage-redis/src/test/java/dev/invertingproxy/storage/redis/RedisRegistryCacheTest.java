package dev.invertingproxy.storage.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.testkit.RedisProcess;
import io.lettuce.core.resource.ClientResources;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Nodes keep the backend records for a while; a change on one node reaches the others' copies by
 * its announcement. The copies here live for an hour, so only the announcement can refresh them.
 */
class RedisRegistryCacheTest {
  private static RedisProcess redis;
  private static ClientResources resources;
  private final String prefix = "cache-" + UUID.randomUUID();

  @BeforeAll
  static void startRedis() throws IOException {
    redis = RedisProcess.start();
    resources = ClientResources.create();
  }

  @AfterAll
  static void stopRedis() {
    resources.shutdown();
    redis.close();
  }

  private RedisStorage node() {
    return RedisStorage.builder()
        .uri(redis.uri())
        .resources(resources)
        .prefix(prefix)
        .registryCacheTtl(Duration.ofHours(1))
        .build();
  }

  private static BackendRecord record(String id, String agent) {
    return new BackendRecord(id, Set.of(agent), Set.of("allUsers"), List.of("/"), null);
  }

  private static <T> T eventually(Supplier<T> read, java.util.function.Predicate<T> done)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    T value = read.get();
    while (!done.test(value) && System.nanoTime() < deadline) {
      Thread.sleep(20);
      value = read.get();
    }
    return value;
  }

  @Test
  void aChangeOnOneNodeReachesTheOthersCopies() throws Exception {
    try (RedisStorage a = node();
        RedisStorage b = node()) {
      BackendRegistry onA = a.registry();
      BackendRegistry onB = b.registry();
      assertThat(onA.list()).isEmpty(); // both now hold an (empty) copy
      assertThat(onB.list()).isEmpty();

      onA.put(record("b1", "agent@x"));
      assertThat(onA.get("b1")).isPresent(); // the writer's own copy is dropped at once
      assertThat(eventually(() -> onB.get("b1"), Optional::isPresent)).isPresent();

      onA.put(record("b1", "agent@y")); // an agent revoked, another allowed
      assertThat(eventually(() -> onB.get("b1").orElseThrow().agentIdentities(), ids -> ids.contains("agent@y")))
          .containsExactly("agent@y");

      onB.delete("b1");
      assertThat(onB.get("b1")).isEmpty();
      assertThat(eventually(onA::list, List::isEmpty)).isEmpty();
    }
  }
}
