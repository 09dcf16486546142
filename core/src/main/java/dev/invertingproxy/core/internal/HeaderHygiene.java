package dev.invertingproxy.core.internal;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Header rules applied at the proxy hop: hop-by-hop fields (RFC 9110 §7.6.1), including every
 * field named in {@code Connection}, never cross it; protocol headers a client sends are removed.
 */
public final class HeaderHygiene {
  private static final Set<String> HOP_BY_HOP =
      Set.of(
          "connection",
          "keep-alive",
          "proxy-connection",
          "proxy-authenticate",
          "proxy-authorization",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade");

  private HeaderHygiene() {}

  /**
   * Removes hop-by-hop fields and those named in {@code Connection}. {@code TE: trailers} is kept
   * on requests (gRPC needs it), as a reverse proxy should.
   */
  public static Headers withoutHopByHop(Headers headers, boolean request) {
    Set<String> named = connectionTokens(headers);
    return headers.without(
        field -> {
          String name = field.name().toLowerCase(Locale.ROOT);
          if (request && name.equals("te") && field.value().trim().equalsIgnoreCase("trailers")) {
            return false;
          }
          return HOP_BY_HOP.contains(name) || named.contains(name);
        });
  }

  /** Removes every {@code X-Inverting-Proxy-*} field. */
  public static Headers withoutProtocolHeaders(Headers headers) {
    return headers.without(HeaderHygiene::isProtocolHeader);
  }

  /** Returns true for {@code X-Inverting-Proxy-*} fields, in any case. */
  public static boolean isProtocolHeader(Header field) {
    String name = field.name();
    return name.length() >= ProtocolHeaders.PREFIX.length()
        && name.regionMatches(true, 0, ProtocolHeaders.PREFIX, 0, ProtocolHeaders.PREFIX.length());
  }

  /**
   * Adds {@code X-Forwarded-For} (the client address appended to any list the client sent), and
   * sets {@code X-Forwarded-Proto} and {@code X-Forwarded-Host}.
   */
  public static Headers withForwarded(
      Headers headers, String clientAddress, String scheme, String host) {
    String priorFor = String.join(", ", headers.all("X-Forwarded-For"));
    Headers.Builder builder =
        headers
            .without(
                field ->
                    field.is("X-Forwarded-For")
                        || field.is("X-Forwarded-Proto")
                        || field.is("X-Forwarded-Host"))
            .toBuilder();
    builder.add("X-Forwarded-For", priorFor.isEmpty() ? clientAddress : priorFor + ", " + clientAddress);
    builder.add("X-Forwarded-Proto", scheme);
    if (!host.isEmpty()) {
      builder.add("X-Forwarded-Host", host);
    }
    return builder.build();
  }

  private static Set<String> connectionTokens(Headers headers) {
    Set<String> tokens = new TreeSet<>();
    for (String value : headers.all("Connection")) {
      for (String token : value.split(",")) {
        String trimmed = token.trim().toLowerCase(Locale.ROOT);
        if (!trimmed.isEmpty()) {
          tokens.add(trimmed);
        }
      }
    }
    return tokens;
  }
}
