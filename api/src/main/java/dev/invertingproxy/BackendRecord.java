package dev.invertingproxy;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A registered backend: who may act as its agent, who may reach it, which paths it serves.
 *
 * @param id the backend ID, as agents send it in {@code X-Inverting-Proxy-Backend-ID}
 * @param agentIdentities identities allowed to act as this backend's agent (the reference's
 *     {@code backendUser})
 * @param endUsers identities allowed to reach it; {@link #ALL_USERS} for everyone
 * @param pathPrefixes URL path prefixes it serves; {@code "/"} serves everything
 * @param lastUsed when an agent last answered one of its requests, or null
 * @since 0.1
 */
public record BackendRecord(
    String id,
    Set<String> agentIdentities,
    Set<String> endUsers,
    List<String> pathPrefixes,
    @Nullable Instant lastUsed) {

  /** The end-user value that lets everyone reach a backend. */
  public static final String ALL_USERS = "allUsers";

  public BackendRecord {
    Objects.requireNonNull(id, "id");
    if (id.isBlank()) {
      throw new IllegalArgumentException("id is blank");
    }
    agentIdentities = Set.copyOf(agentIdentities);
    endUsers = Set.copyOf(endUsers);
    pathPrefixes = List.copyOf(pathPrefixes);
  }

  /** Returns when an agent last answered one of its requests. */
  public Optional<Instant> lastUsedTime() {
    return Optional.ofNullable(lastUsed);
  }
}
