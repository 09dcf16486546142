package dev.invertingproxy.storage.redis;

import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import dev.invertingproxy.testkit.AbstractStorageConformanceTest;
import dev.invertingproxy.testkit.Capability;
import dev.invertingproxy.testkit.RedisProcess;
import io.lettuce.core.resource.ClientResources;
import java.io.IOException;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The storage kit against Redis: a real redis-server process; every test has its own key prefix
 * (a fresh, empty storage), and a peer over the same prefix is another proxy node.
 */
class RedisStorageConformanceTest extends AbstractStorageConformanceTest {
  private static RedisProcess redis;
  private static ClientResources resources;
  private final String prefix = "kit-" + UUID.randomUUID();

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

  @Override
  protected Storage newStorage(StorageOptions options) {
    return RedisStorage.builder().uri(redis.uri()).resources(resources).prefix(prefix).options(options).build();
  }

  @Override
  protected Set<Capability> capabilities() {
    return Set.of(Capability.MULTI_NODE);
  }

  @Override
  protected Storage newPeer(Storage first, StorageOptions options) {
    return newStorage(options);
  }
}
