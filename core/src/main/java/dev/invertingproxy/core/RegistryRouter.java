package dev.invertingproxy.core;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.internal.Checks;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Routes client requests by the {@link BackendRecord}s of a {@link BackendRegistry}: by end user
 * and path prefix. One algorithm for every storage; it reads the registry only.
 *
 * <h2>Rules</h2>
 *
 * <ol>
 *   <li><b>Path.</b> The request's path is the raw target of {@link ClientExchange#head()} up to
 *       its first {@code ?} (the query is ignored), still percent-encoded: it is compared byte for
 *       byte, never decoded or normalized ({@code %2F} is not a segment boundary, {@code %7E} is
 *       not {@code ~}). A target with a dot segment never gets here: {@link ProxyEngine} refuses
 *       it first ({@link RequestTargets}), so that no spelling crosses a prefix. An absolute-form target ({@code http://h/p}) is
 *       reduced to its path ({@code /p}, or {@code /} if it has none).
 *   <li><b>Prefix match, on path-segment boundaries.</b> A prefix matches a path if the path
 *       equals it or continues it with {@code /}: {@code /foo} matches {@code /foo}, {@code
 *       /foo/} and {@code /foo/bar}, but <em>not</em> {@code /foobar}. Trailing slashes of a
 *       prefix are ignored ({@code /foo/} is the same prefix as {@code /foo}). The prefix {@code
 *       /} matches every request (even {@code OPTIONS *}). A prefix that does not start with
 *       {@code /} matches nothing. A record's match is its longest matching prefix (length after
 *       the trailing slashes are removed); a record with no matching prefix is no candidate.
 *   <li><b>Per-user first.</b> If the request has an end user ({@link ClientExchange#userId()}),
 *       the records whose {@link BackendRecord#endUsers()} contain that exact identity are
 *       candidates; the one with the longest match wins.
 *   <li><b>Shared otherwise.</b> If no per-user record matches (or there is no end user), the
 *       matching record among those whose end users contain {@link BackendRecord#ALL_USERS} with
 *       the longest match wins.
 *   <li><b>Stale per-user backend falls back.</b> If the winning per-user backend is not live (no
 *       agent polled for it within the liveness window: {@link BackendRegistry#lastSeen} empty or
 *       older than {@code now - livenessWindow}) and a matching shared backend is live, the shared
 *       one is used. If the shared one is not live either (or none matches), the per-user backend
 *       is returned, so that the engine's 503 names the user's own backend.
 *   <li><b>No match</b> gives {@link Optional#empty()} (the engine answers 404). A match that is
 *       not live is still returned (the engine answers 503).
 *   <li><b>Ties</b> (equal match length) go to the lexicographically smallest backend ID, so
 *       routing is deterministic whatever order the registry lists records in.
 * </ol>
 *
 * <p>Cost: every request reads {@link BackendRegistry#list()} once and looks at every prefix of
 * every record (plus at most two {@link BackendRegistry#lastSeen} calls). That is fine for tens
 * or hundreds of records on a local storage; a networked storage or many records will want a
 * cached index (not done yet).
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class RegistryRouter implements BackendResolver {
  private final BackendRegistry registry;
  private final Duration livenessWindow;
  private final Clock clock;

  private RegistryRouter(BackendRegistry registry, Duration livenessWindow, Clock clock) {
    this.registry = registry;
    this.livenessWindow = livenessWindow;
    this.clock = clock;
  }

  /**
   * Returns a router over {@code registry}.
   *
   * @param livenessWindow a backend is live if an agent polled for it within this window (the
   *     engine uses its long-poll time-out plus grace); must be positive
   * @param clock the time source for liveness
   */
  public static RegistryRouter of(BackendRegistry registry, Duration livenessWindow, Clock clock) {
    Objects.requireNonNull(registry, "registry");
    Checks.positive(livenessWindow, "livenessWindow");
    Objects.requireNonNull(clock, "clock");
    return new RegistryRouter(registry, livenessWindow, clock);
  }

  /** Returns the liveness window. */
  public Duration livenessWindow() {
    return livenessWindow;
  }

  @Override
  public Optional<String> resolve(ClientExchange client) {
    String path = path(client.head().target());
    Optional<String> user = client.userId().filter(u -> !u.isEmpty());
    Best perUser = new Best();
    Best shared = new Best();
    for (BackendRecord record : registry.list()) {
      int match = longestMatch(record, path);
      if (match < 0) {
        continue;
      }
      if (user.isPresent() && record.endUsers().contains(user.get())) {
        perUser.offer(record.id(), match);
      }
      if (record.endUsers().contains(BackendRecord.ALL_USERS)) {
        shared.offer(record.id(), match);
      }
    }
    if (perUser.id == null) {
      return Optional.ofNullable(shared.id);
    }
    if (shared.id == null || shared.id.equals(perUser.id)) {
      return Optional.of(perUser.id);
    }
    Instant oldest = clock.instant().minus(livenessWindow);
    if (!live(perUser.id, oldest) && live(shared.id, oldest)) {
      return Optional.of(shared.id);
    }
    return Optional.of(perUser.id);
  }

  private boolean live(String backendId, Instant oldest) {
    Optional<Instant> seen = registry.lastSeen(backendId);
    return seen.isPresent() && !seen.get().isBefore(oldest);
  }

  /** The best candidate so far: longest match, then smallest ID. */
  private static final class Best {
    @Nullable String id;
    int match = -1;

    void offer(String candidate, int candidateMatch) {
      if (candidateMatch > match
          || (candidateMatch == match && id != null && candidate.compareTo(id) < 0)) {
        id = candidate;
        match = candidateMatch;
      }
    }
  }

  /** Returns the length of the record's longest prefix matching {@code path}, or -1. */
  private static int longestMatch(BackendRecord record, String path) {
    int best = -1;
    for (String prefix : record.pathPrefixes()) {
      int length = matchLength(prefix, path);
      if (length > best) {
        best = length;
      }
    }
    return best;
  }

  /**
   * Returns how long a match {@code prefix} is for {@code path} (its length without trailing
   * slashes; 0 for {@code /}), or -1 if it does not match on a path-segment boundary.
   */
  static int matchLength(@Nullable String prefix, String path) {
    if (prefix == null || !prefix.startsWith("/")) {
      return -1;
    }
    int end = prefix.length();
    while (end > 0 && prefix.charAt(end - 1) == '/') {
      end--;
    }
    if (end == 0) {
      return 0; // "/" (or "//"): every request
    }
    if (!path.startsWith(prefix.substring(0, end))) {
      return -1;
    }
    if (path.length() == end || path.charAt(end) == '/') {
      return end;
    }
    return -1;
  }

  /** Returns the raw path of a request target (see {@link RequestTargets#path}). */
  static String path(String target) {
    return RequestTargets.path(target);
  }

}
