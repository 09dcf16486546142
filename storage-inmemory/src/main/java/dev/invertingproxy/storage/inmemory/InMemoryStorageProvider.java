package dev.invertingproxy.storage.inmemory;

import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import dev.invertingproxy.spi.StorageProvider;
import java.net.URI;
import java.util.Set;

/**
 * Provides {@link InMemoryStorage} for the URI {@code memory:} (any scheme-specific part is
 * ignored).
 *
 * <p>This class is thread-safe.
 */
public final class InMemoryStorageProvider implements StorageProvider {

  /** Cheap and side-effect free, as the provider contract requires. */
  public InMemoryStorageProvider() {}

  @Override
  public String name() {
    return "memory";
  }

  @Override
  public Set<String> schemes() {
    return Set.of("memory");
  }

  @Override
  public Storage create(URI uri, StorageOptions options) {
    if (!"memory".equalsIgnoreCase(uri.getScheme())) {
      throw new IllegalArgumentException("not a memory: URI: " + uri);
    }
    return new InMemoryStorage(options);
  }
}
