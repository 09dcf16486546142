package dev.invertingproxy.core.internal;

import java.security.SecureRandom;
import java.util.HexFormat;

/** Unguessable request IDs: 128 random bits from a {@link SecureRandom}, as 32 hex digits. */
public final class RequestIds {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final HexFormat HEX = HexFormat.of();

  private RequestIds() {}

  public static String next() {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    return HEX.formatHex(bytes);
  }
}
