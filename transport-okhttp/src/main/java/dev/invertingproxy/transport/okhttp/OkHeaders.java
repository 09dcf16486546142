package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.util.ArrayList;
import java.util.List;

/**
 * Converts between {@link Headers} and {@link okhttp3.Headers}, keeping order, name case and
 * repetitions, and between the two text conventions.
 *
 * <p>The project's HTTP codec (core) holds header values as <em>byte strings</em>: one char per
 * byte, ISO-8859-1. OkHttp reads header lines as UTF-8 and writes header values as UTF-8. So:
 *
 * <ul>
 *   <li>values read by OkHttp are re-encoded to UTF-8 and handed on as byte strings; for bytes that
 *       were valid UTF-8 this restores them exactly; bytes that were not were already replaced by
 *       U+FFFD in OkHttp's reader (its bytes EF BF BD are handed on);
 *   <li>values sent through OkHttp whose bytes are valid UTF-8 are decoded first, so OkHttp writes
 *       the original bytes; other non-ASCII bytes (a lone obs-text byte such as 0xE9) cannot be
 *       written by OkHttp as such and go out as the UTF-8 encoding of that ISO-8859-1 character.
 * </ul>
 *
 * <p>ASCII, by far the common case, passes through untouched.
 *
 * <p>This class is thread-safe (stateless).
 */
final class OkHeaders {
  private OkHeaders() {}

  /** Appends one field without OkHttp's ASCII check on the value, refusing line breaks. */
  static void addExact(okhttp3.Headers.Builder builder, String name, String value)
      throws IOException {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '\r' || c == '\n' || c == '\0') {
        throw new IOException(
            "header " + printable(name) + " has a line break or NUL in its value");
      }
    }
    try {
      builder.addUnsafeNonAscii(name, toOkHttpText(value));
    } catch (IllegalArgumentException e) {
      // OkHttp only checks the name here, so its message cannot leak a value.
      throw new IOException(
          "cannot send header field " + printable(name) + ": " + e.getMessage(), e);
    }
  }

  /**
   * Returns OkHttp's header list as {@link Headers} of byte strings. Fields without a name (an
   * obsolete line folding, which OkHttp records that way) are dropped.
   */
  static Headers toApi(okhttp3.Headers headers) {
    List<Header> fields = new ArrayList<>(headers.size());
    for (int i = 0; i < headers.size(); i++) {
      String name = headers.name(i);
      if (!name.isEmpty()) {
        fields.add(new Header(toByteString(name), toByteString(headers.value(i))));
      }
    }
    return Headers.of(fields);
  }

  /** Returns text OkHttp decoded as UTF-8 as a byte string (one char per original byte). */
  static String toByteString(String text) {
    return isAscii(text) ? text : new String(text.getBytes(UTF_8), ISO_8859_1);
  }

  /**
   * Returns a byte string as the text OkHttp must write (as UTF-8) to reproduce its bytes, when
   * they are valid UTF-8; otherwise returns it unchanged.
   */
  static String toOkHttpText(String byteString) {
    if (isAscii(byteString)) {
      return byteString;
    }
    for (int i = 0; i < byteString.length(); i++) {
      if (byteString.charAt(i) > 0xff) {
        return byteString; // not a byte string: already text
      }
    }
    try {
      return UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(byteString.getBytes(ISO_8859_1)))
          .toString();
    } catch (CharacterCodingException e) {
      return byteString; // not UTF-8: OkHttp transcodes each byte's character to UTF-8
    }
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  /** Returns {@code s} cut to 64 characters with control characters replaced, for messages. */
  static String printable(String s) {
    StringBuilder out = new StringBuilder(Math.min(s.length(), 64));
    for (int i = 0; i < s.length() && i < 64; i++) {
      char c = s.charAt(i);
      out.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return out.toString();
  }
}
