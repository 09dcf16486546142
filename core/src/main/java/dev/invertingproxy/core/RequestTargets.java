package dev.invertingproxy.core;

import dev.invertingproxy.BadRequestException;
import java.util.Optional;

/**
 * The one rule for request targets, applied wherever a path decides something: the proxy's client
 * endpoint before routing, its agent and admin endpoints (whose container maps paths after
 * normalizing them), and the agent before it forwards to the backend.
 *
 * <p><b>The proxy never rewrites a target; a target with a dot segment is refused.</b> A path
 * prefix is an authorization boundary ({@code /foo} must never reach the backend's {@code /bar}),
 * yet a target such as {@code /foo/../bar} matches {@code /foo} as written and means {@code /bar}
 * to whoever removes dot segments afterwards (a container's servlet mapping, the agent's HTTP
 * client, the backend). Rather than normalize (and forward something other than what the client
 * sent), every target whose path holds a dot segment in any spelling is answered {@code 400}:
 *
 * <ul>
 *   <li>the path is the target up to its first {@code ?} or {@code #}; of an absolute-form target
 *       ({@code http://host/p}), the part after the authority;
 *   <li>it is percent-decoded again and again until nothing changes (so {@code %2e}, {@code %2E}
 *       and the double-encoded {@code %252e} are all dots; {@code %2f}, {@code %5c} and their
 *       double encodings are separators), then split on {@code /} and {@code \};
 *   <li>a segment's part before the first {@code ;} (a path parameter, as in {@code ..;jsessionid})
 *       that is {@code .} or {@code ..} is a dot segment.
 * </ul>
 *
 * <p>So {@code /foo/../bar}, {@code /foo/%2e%2E/bar}, {@code /foo/.%2e/bar}, {@code /foo/..%2fbar},
 * {@code /foo/%252e%252e/bar}, {@code /foo/..;/bar}, {@code /foo/..\bar} and {@code /foo/./bar}
 * are refused, whatever the backend does with encoded characters. {@code /foo/...}, {@code
 * /foo/.well-known} and {@code /foo/a..b} are ordinary segments; {@code //x} and {@code /a//b}
 * (empty segments) are relayed unchanged. Browsers and HTTP clients remove dot segments before
 * they send a request, so only hand-made requests ({@code curl --path-as-is}) meet this rule.
 *
 * <p>This class is thread-safe (stateless).
 *
 * @since 0.1
 */
public final class RequestTargets {
  /** Decoding rounds: a target encoded more deeply than this is refused as a whole. */
  private static final int MAX_DECODES = 8;

  private RequestTargets() {}

  /**
   * Returns why {@code target} is refused, or empty if it may be routed and forwarded as it is.
   */
  public static Optional<String> refusal(String target) {
    String path = path(target);
    String decoded = path;
    for (int round = 0; ; round++) {
      String next = percentDecode(decoded);
      if (next.equals(decoded)) {
        break;
      }
      if (round == MAX_DECODES) {
        return Optional.of("request target is percent-encoded " + MAX_DECODES + " times over");
      }
      decoded = next;
    }
    int start = 0;
    for (int i = 0; i <= decoded.length(); i++) {
      if (i == decoded.length() || decoded.charAt(i) == '/' || decoded.charAt(i) == '\\') {
        if (isDotSegment(decoded, start, i)) {
          return Optional.of(
              "request target has a dot segment ('.' or '..', plain or percent-encoded): the"
                  + " proxy relays targets unchanged and refuses those");
        }
        start = i + 1;
      }
    }
    return Optional.empty();
  }

  /**
   * Throws if {@code target} is refused by this rule.
   *
   * @throws BadRequestException with the reason (400)
   */
  public static void check(String target) {
    Optional<String> refusal = refusal(target);
    if (refusal.isPresent()) {
      throw new BadRequestException(refusal.get());
    }
  }

  /** Whether {@code path[start, end)}, up to its first {@code ;}, is {@code .} or {@code ..}. */
  private static boolean isDotSegment(String path, int start, int end) {
    int semicolon = path.indexOf(';', start);
    if (semicolon >= 0 && semicolon < end) {
      end = semicolon;
    }
    int length = end - start;
    return (length == 1 || length == 2)
        && path.charAt(start) == '.'
        && path.charAt(end - 1) == '.';
  }

  /**
   * The raw path of a target: no query or fragment; of an absolute-form target ({@code
   * http://h/p}), the part after the authority, or {@code /} if there is none. Still
   * percent-encoded.
   */
  static String path(String target) {
    String path = target;
    int end = path.length();
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '?' || c == '#') {
        end = i;
        break;
      }
    }
    path = path.substring(0, end);
    if (!path.startsWith("/")) {
      int scheme = path.indexOf("://");
      if (scheme > 0) {
        int slash = path.indexOf('/', scheme + 3);
        path = slash < 0 ? "/" : path.substring(slash);
      }
    }
    return path;
  }

  /**
   * Decodes every valid {@code %XX} of {@code text} to the character with that code (one char per
   * byte, as the codec keeps header and target text); invalid sequences stay as they are.
   */
  private static String percentDecode(String text) {
    int percent = text.indexOf('%');
    if (percent < 0) {
      return text;
    }
    StringBuilder decoded = new StringBuilder(text.length());
    decoded.append(text, 0, percent);
    for (int i = percent; i < text.length(); i++) {
      char c = text.charAt(i);
      int high;
      int low;
      if (c == '%'
          && i + 2 < text.length()
          && (high = Character.digit(text.charAt(i + 1), 16)) >= 0
          && (low = Character.digit(text.charAt(i + 2), 16)) >= 0) {
        decoded.append((char) (high * 16 + low));
        i += 2;
      } else {
        decoded.append(c);
      }
    }
    return decoded.toString();
  }
}
