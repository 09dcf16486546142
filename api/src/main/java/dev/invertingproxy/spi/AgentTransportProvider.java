package dev.invertingproxy.spi;

import dev.invertingproxy.AgentConfig;

/**
 * Creates the agent's {@link AgentTransport}. Discovered with {@link java.util.ServiceLoader};
 * same contract as {@link StorageProvider} (cheap no-argument constructor that never throws).
 *
 * <p>Implementations are thread-safe.
 *
 * @since 0.1
 */
public interface AgentTransportProvider {

  /** Returns a stable name, such as {@code "okhttp"}. */
  String name();

  /** Returns false if this provider cannot work in this runtime. */
  default boolean isAvailable() {
    return true;
  }

  /** Returns 0 to 10; the highest available wins. Default 5. */
  default int priority() {
    return 5;
  }

  /** Creates a new transport; the caller closes it. */
  AgentTransport create(AgentConfig config);
}
