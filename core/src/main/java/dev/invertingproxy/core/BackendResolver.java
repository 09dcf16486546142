package dev.invertingproxy.core;

import java.util.Objects;
import java.util.Optional;

/**
 * Decides which backend a client request goes to: {@link #fixed} for one backend, {@link
 * RegistryRouter} for routing by the registry's records (end user and path prefix).
 *
 * <p>Implementations must be thread-safe.
 *
 * @since 0.1
 */
@FunctionalInterface
public interface BackendResolver {

  /** Returns the backend ID for {@code client}, or empty if no backend serves it (404). */
  Optional<String> resolve(ClientExchange client);

  /** Sends every request to {@code backendId}. */
  static BackendResolver fixed(String backendId) {
    Objects.requireNonNull(backendId, "backendId");
    if (backendId.isBlank()) {
      throw new IllegalArgumentException("backendId is blank");
    }
    Optional<String> result = Optional.of(backendId);
    return client -> result;
  }
}
