package dev.invertingproxy.storage.inmemory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import dev.invertingproxy.spi.StorageProvider;
import java.net.URI;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class ProviderDiscoveryTest {
  @Test
  void serviceLoaderFindsExactlyTheMemoryProvider() {
    var providers = ServiceLoader.load(StorageProvider.class).stream().map(ServiceLoader.Provider::get).toList();
    assertThat(providers).hasSize(1);
    StorageProvider provider = providers.get(0);
    assertThat(provider).isInstanceOf(InMemoryStorageProvider.class);
    assertThat(provider.name()).isEqualTo("memory");
    assertThat(provider.schemes()).containsExactly("memory");
    try (Storage storage = provider.create(URI.create("memory:/"), StorageOptions.defaults())) {
      assertThat(storage).isInstanceOf(InMemoryStorage.class);
    }
  }
}
