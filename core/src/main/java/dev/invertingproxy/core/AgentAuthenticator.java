package dev.invertingproxy.core;

import dev.invertingproxy.Headers;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Decides who an agent is from the headers of its call. Every agent call is authenticated; a call
 * without a valid credential is answered 401.
 *
 * <p>Implementations must be thread-safe.
 *
 * @since 0.1
 */
@FunctionalInterface
public interface AgentAuthenticator {

  /** The identity given to agents accepted by {@link #anonymous()}. */
  String ANONYMOUS = "anonymous";

  /**
   * Returns the agent's identity, or empty if the call carries no valid credential.
   *
   * @param headers the headers of the agent's call
   */
  Optional<String> authenticate(Headers headers);

  /** Refuses every agent: the default when no credential is configured. */
  static AgentAuthenticator denyAll() {
    return headers -> Optional.empty();
  }

  /**
   * Accepts every agent, ignoring any {@code Authorization} header (the reference agent always
   * sends one). For demos and closed networks only.
   */
  static AgentAuthenticator anonymous() {
    Optional<String> anonymous = Optional.of(ANONYMOUS);
    return headers -> anonymous;
  }

  /**
   * Accepts agents presenting {@code Authorization: Bearer <token>} for one of the tokens, each
   * mapped to the identity it stands for. Tokens are compared in constant time.
   */
  static AgentAuthenticator bearerTokens(Map<String, String> identityByToken) {
    Map<String, String> tokens = Map.copyOf(identityByToken);
    tokens.keySet().forEach(token -> {
      if (token.isBlank()) {
        throw new IllegalArgumentException("a bearer token is blank");
      }
    });
    return headers -> {
      Optional<String> presented = bearerToken(headers);
      if (presented.isEmpty()) {
        return Optional.empty();
      }
      byte[] given = presented.get().getBytes(StandardCharsets.UTF_8);
      String identity = null;
      for (Map.Entry<String, String> entry : tokens.entrySet()) {
        if (MessageDigest.isEqual(given, entry.getKey().getBytes(StandardCharsets.UTF_8))) {
          identity = entry.getValue();
        }
      }
      return Optional.ofNullable(identity);
    };
  }

  /** Returns the token of an {@code Authorization: Bearer} header, if there is one. */
  static Optional<String> bearerToken(Headers headers) {
    Objects.requireNonNull(headers, "headers");
    return headers
        .first("Authorization")
        .filter(value -> value.regionMatches(true, 0, "Bearer ", 0, 7))
        .map(value -> value.substring(7).trim())
        .filter(token -> !token.isEmpty());
  }
}
