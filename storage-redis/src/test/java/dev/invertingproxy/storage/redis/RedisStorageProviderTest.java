package dev.invertingproxy.storage.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.core.Providers;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import dev.invertingproxy.testkit.RedisProcess;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The provider as users reach it: a {@code redis://} URI, found by ServiceLoader. */
class RedisStorageProviderTest {
  private static RedisProcess redis;

  @BeforeAll
  static void startRedis() throws IOException {
    redis = RedisProcess.start();
  }

  @AfterAll
  static void stopRedis() {
    redis.close();
  }

  private static Storage open(String uri) {
    return Providers.openStorage(Providers.storageUri(uri), StorageOptions.defaults());
  }

  @Test
  void redisUrisFindThisProviderAndNodesOfOnePrefixShareState() {
    assertThat(Providers.storageProvider(URI.create("redis://x")).name()).isEqualTo("redis");
    assertThat(Providers.storageProvider(URI.create("rediss://x")).name()).isEqualTo("redis");
    String prefix = "p-" + UUID.randomUUID();
    try (Storage first = open(redis.uri() + "/0?prefix=" + prefix + "&window=2&chunkSize=1024&requestTtl=60");
        Storage second = open(redis.uri() + "?prefix=" + prefix);
        Storage other = open(redis.uri() + "?prefix=other-" + prefix)) {
      assertThat(first).isInstanceOf(RedisStorage.class);
      assertThat(((RedisStorage) first).nodeId()).isNotEqualTo(((RedisStorage) second).nodeId());
      first.registry().put(new BackendRecord("shared", Set.of("agent"), Set.of("allUsers"), List.of("/"), null));
      assertThat(second.registry().get("shared")).isPresent();
      assertThat(other.registry().get("shared")).isEmpty();
    }
  }

  @Test
  void badParametersAreRefusedNamingThem() {
    assertThatThrownBy(() -> open(redis.uri() + "?window=many"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("window");
    assertThatThrownBy(() -> open(redis.uri() + "?chunkSize=0"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("chunkSize");
    assertThatThrownBy(() -> open(redis.uri() + "?prefix="))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefix");
    assertThatThrownBy(
            () -> new RedisStorageProvider().create(URI.create("memory:/"), StorageOptions.defaults()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anUnreachableServerIsAStorageErrorThatNeverShowsThePassword() {
    assertThatThrownBy(() -> open("redis://:s3cret-pass@127.0.0.1:1"))
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("cannot reach Redis at redis://127.0.0.1:1")
        .hasMessageNotContaining("s3cret-pass");
  }
}
