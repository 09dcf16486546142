package dev.invertingproxy.spi;

import java.net.URI;
import java.util.Set;

/**
 * Creates {@link Storage} for the URI schemes it serves ({@code memory:}, {@code redis://}).
 * Discovered with {@link java.util.ServiceLoader}; declare it in {@code
 * META-INF/services/dev.invertingproxy.spi.StorageProvider} and in {@code module-info} ({@code
 * provides}).
 *
 * <p>Contract: a public no-argument constructor that is cheap, has no side effect and never
 * throws. Implementations are thread-safe.
 *
 * @since 0.1
 */
public interface StorageProvider {

  /** Returns a stable name, such as {@code "memory"} or {@code "redis"}. */
  String name();

  /** Returns the URI schemes this provider serves, lower case. */
  Set<String> schemes();

  /** Returns false if this provider cannot work in this runtime (a missing optional class). */
  default boolean isAvailable() {
    return true;
  }

  /** Returns 0 to 10; among providers of one scheme the highest wins. Default 5. */
  default int priority() {
    return 5;
  }

  /**
   * Creates a new storage. The caller closes it.
   *
   * @throws IllegalArgumentException if {@code uri} is not valid for this provider
   * @throws dev.invertingproxy.StorageException if the storage cannot be reached
   */
  Storage create(URI uri, StorageOptions options);
}
