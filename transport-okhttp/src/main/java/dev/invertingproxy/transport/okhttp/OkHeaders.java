package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Converts between {@link Headers} and {@link okhttp3.Headers}, keeping order, name case and
 * repetitions.
 *
 * <p>This class is thread-safe (stateless).
 */
final class OkHeaders {
  private OkHeaders() {}

  /**
   * Returns {@code headers} as an OkHttp header list, unvalidated values allowed (obs-text), in
   * the same order and case.
   *
   * @throws IOException if a name is not a valid token for OkHttp, or a value holds CR, LF or NUL
   *     (that would split the header block)
   */
  static okhttp3.Headers toOkHttp(List<Header> headers) throws IOException {
    okhttp3.Headers.Builder builder = new okhttp3.Headers.Builder();
    for (Header header : headers) {
      addExact(builder, header.name(), header.value());
    }
    return builder.build();
  }

  /** Appends one field without OkHttp's ASCII check on the value, refusing line breaks. */
  static void addExact(okhttp3.Headers.Builder builder, String name, String value)
      throws IOException {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '\r' || c == '\n' || c == '\0') {
        throw new IOException("header " + name + " has a line break or NUL in its value");
      }
    }
    try {
      builder.addUnsafeNonAscii(name, value);
    } catch (IllegalArgumentException e) {
      throw new IOException("cannot send header field " + printable(name) + ": " + e.getMessage(), e);
    }
  }

  /**
   * Returns OkHttp's header list as {@link Headers}. Fields without a name (an obsolete line
   * folding, which OkHttp records that way) are dropped.
   */
  static Headers toApi(okhttp3.Headers headers) {
    List<Header> fields = new ArrayList<>(headers.size());
    for (int i = 0; i < headers.size(); i++) {
      String name = headers.name(i);
      if (!name.isEmpty()) {
        fields.add(new Header(name, headers.value(i)));
      }
    }
    return Headers.of(fields);
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
