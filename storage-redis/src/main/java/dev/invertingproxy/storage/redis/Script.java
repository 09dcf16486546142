package dev.invertingproxy.storage.redis;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A Lua script and its SHA-1, run with EVALSHA (EVAL when the server forgot it, e.g. after a restart). */
final class Script {
  final String text;
  final String sha;

  Script(String text) {
    this.text = text;
    try {
      this.sha =
          HexFormat.of()
              .formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required of every JDK", e);
    }
  }
}
