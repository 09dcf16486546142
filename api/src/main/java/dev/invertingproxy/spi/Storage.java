package dev.invertingproxy.spi;

import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.RequestBroker;

/**
 * A storage: the backend registry and the request broker, sharing one state (one JVM's memory,
 * or a Redis server shared by many proxy nodes).
 *
 * <p>Implementations are thread-safe.
 *
 * @since 0.1
 */
public interface Storage extends AutoCloseable {

  /** Returns the registry. */
  BackendRegistry registry();

  /** Returns the broker. */
  RequestBroker broker();

  /**
   * Releases what this storage created; pending requests fail with {@link
   * dev.invertingproxy.StorageException}. Idempotent.
   */
  @Override
  void close();
}
