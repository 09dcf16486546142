package dev.invertingproxy.core;

import dev.invertingproxy.Headers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Credentials an agent sends on every call to the proxy, for {@link
 * DefaultAgentLoop.Builder#proxyHeaders}: asked for per call, so a refreshed credential is used
 * from the next call on.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class AgentCredentials {
  private AgentCredentials() {}

  /** {@code Authorization: Bearer <token>} with a fixed token. */
  public static Supplier<Headers> bearer(String token) {
    Headers headers = authorization(requireToken(token, "token"));
    return () -> headers;
  }

  /**
   * {@code Authorization: Bearer <token>} with the token {@code tokens} supplies at each call (for
   * example an OIDC ID token refreshed before it expires).
   */
  public static Supplier<Headers> bearer(Supplier<String> tokens) {
    Objects.requireNonNull(tokens, "tokens");
    return () -> authorization(requireToken(tokens.get(), "the supplied token"));
  }

  /**
   * {@code Authorization: Bearer <token>} with the token read from {@code file} (surrounding
   * whitespace ignored), read again whenever the file changes: a sidecar or a cron job may
   * rotate it. A missing or empty file fails the call, which the agent retries with back-off.
   */
  public static Supplier<Headers> bearerFromFile(Path file) {
    Objects.requireNonNull(file, "file");
    return new Supplier<>() {
      private FileTime readAt;
      private Headers headers;

      @Override
      public synchronized Headers get() {
        try {
          FileTime modified = Files.getLastModifiedTime(file);
          if (headers == null || !modified.equals(readAt)) {
            String token = Files.readString(file, StandardCharsets.UTF_8).trim();
            headers = authorization(requireToken(token, "the token in " + file));
            readAt = modified;
          }
          return headers;
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read the agent token file " + file, e);
        }
      }
    };
  }

  private static Headers authorization(String token) {
    return Headers.of("Authorization", "Bearer " + token);
  }

  private static String requireToken(String token, String what) {
    Objects.requireNonNull(token, what);
    if (token.isBlank() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
      throw new IllegalArgumentException(what + " must be non-empty visible ASCII");
    }
    return token;
  }
}
