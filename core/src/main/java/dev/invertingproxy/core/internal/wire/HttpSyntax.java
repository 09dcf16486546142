package dev.invertingproxy.core.internal.wire;

/**
 * Character classes and small rules of HTTP/1.1 syntax (RFC 9110, RFC 9112) shared by {@link
 * HttpMessageReader} and {@link HttpMessageWriter}.
 *
 * <p>Classes are lookup tables indexed by the unsigned byte value, so the hot loops do one array
 * load per byte and no branching on ranges. This class is stateless and thread-safe.
 */
final class HttpSyntax {
  static final byte CR = '\r';
  static final byte LF = '\n';
  static final byte SP = ' ';
  static final byte HTAB = '\t';

  /** {@code tchar} of RFC 9110 §5.6.2: the characters of a token (method, field name). */
  private static final boolean[] TCHAR = new boolean[256];

  /**
   * Bytes allowed inside a field value and a reason phrase: HTAB, SP, VCHAR and obs-text. Every
   * other control character (NUL, CR, LF, DEL, ...) is refused: RFC 9110 §5.5 lets recipients keep
   * them, but a proxy that forwards them invites header injection downstream.
   */
  private static final boolean[] FIELD_CHAR = new boolean[256];

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  static {
    for (int c = '0'; c <= '9'; c++) {
      TCHAR[c] = true;
    }
    for (int c = 'a'; c <= 'z'; c++) {
      TCHAR[c] = true;
      TCHAR[c - 'a' + 'A'] = true;
    }
    for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
      TCHAR[c] = true;
    }
    FIELD_CHAR[HTAB] = true;
    for (int b = 0x20; b <= 0x7E; b++) {
      FIELD_CHAR[b] = true;
    }
    for (int b = 0x80; b <= 0xFF; b++) {
      FIELD_CHAR[b] = true;
    }
  }

  private HttpSyntax() {}

  static boolean isTchar(byte b) {
    return TCHAR[b & 0xFF];
  }

  static boolean isTchar(char c) {
    return c < 256 && TCHAR[c];
  }

  static boolean isFieldChar(byte b) {
    return FIELD_CHAR[b & 0xFF];
  }

  static boolean isFieldChar(char c) {
    return c < 256 && FIELD_CHAR[c];
  }

  /** Returns true for a byte of the request target: visible ASCII, 0x21 to 0x7E. */
  static boolean isTargetChar(byte b) {
    return b >= 0x21 && b <= 0x7E;
  }

  static boolean isTargetChar(char c) {
    return c >= 0x21 && c <= 0x7E;
  }

  static boolean isWhitespace(byte b) {
    return b == SP || b == HTAB;
  }

  static boolean isWhitespace(char c) {
    return c == ' ' || c == '\t';
  }

  static boolean isDigit(byte b) {
    return b >= '0' && b <= '9';
  }

  /** Returns the value of a hex digit, or -1 if {@code b} is not one. */
  static int hexValue(byte b) {
    if (b >= '0' && b <= '9') {
      return b - '0';
    }
    if (b >= 'a' && b <= 'f') {
      return b - 'a' + 10;
    }
    if (b >= 'A' && b <= 'F') {
      return b - 'A' + 10;
    }
    return -1;
  }

  /**
   * Returns true if a response to {@code requestMethod} with {@code status} never has a body (RFC
   * 9112 §6.3 rules 1 and 2): a response to HEAD, or status 1xx, 204 or 304.
   */
  static boolean isBodylessResponse(int status, String requestMethod) {
    return status / 100 == 1 || status == 204 || status == 304 || "HEAD".equals(requestMethod);
  }

  /** Returns true if {@code bytes[from, from + 8)} is {@code HTTP/<digit>.<digit>}. */
  static boolean isVersion(byte[] bytes, int from, int to) {
    return to - from == 8
        && bytes[from] == 'H'
        && bytes[from + 1] == 'T'
        && bytes[from + 2] == 'T'
        && bytes[from + 3] == 'P'
        && bytes[from + 4] == '/'
        && isDigit(bytes[from + 5])
        && bytes[from + 6] == '.'
        && isDigit(bytes[from + 7]);
  }

  /** Returns true if {@code version} is {@code HTTP/<digit>.<digit>}. */
  static boolean isVersion(String version) {
    return version.length() == 8
        && version.startsWith("HTTP/")
        && version.charAt(5) >= '0'
        && version.charAt(5) <= '9'
        && version.charAt(6) == '.'
        && version.charAt(7) >= '0'
        && version.charAt(7) <= '9';
  }

  /**
   * Describes a byte for an error message: {@code NUL}, {@code CR}, {@code LF} or {@code 0x7F}.
   * Error messages never quote raw peer bytes, so they are safe to log.
   */
  static String describeByte(int b) {
    switch (b & 0xFF) {
      case 0:
        return "NUL";
      case '\r':
        return "CR";
      case '\n':
        return "LF";
      case '\t':
        return "HTAB";
      case ' ':
        return "SP";
      default:
        int v = b & 0xFF;
        if (v > 0x20 && v < 0x7F) {
          return "'" + (char) v + "'";
        }
        return "0x" + HEX[v >> 4] + HEX[v & 0xF];
    }
  }

  /** Describes a character of a string for an error message, like {@link #describeByte}. */
  static String describeChar(char c) {
    if (c < 256) {
      return describeByte(c);
    }
    return String.format("U+%04X", (int) c);
  }

  /**
   * Returns {@code s} made safe to quote in an error message: printable ASCII is kept, everything
   * else becomes {@code \xNN} (or {@code \\uNNNN}), and long values are cut.
   */
  static String printable(String s) {
    StringBuilder sb = new StringBuilder(Math.min(s.length(), 64) + 8);
    for (int i = 0; i < s.length(); i++) {
      if (sb.length() >= 64) {
        sb.append("...");
        break;
      }
      char c = s.charAt(i);
      if (c >= 0x20 && c < 0x7F && c != '\\') {
        sb.append(c);
      } else if (c < 256) {
        sb.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xF]);
      } else {
        sb.append(String.format("\\u%04x", (int) c));
      }
    }
    return sb.toString();
  }
}
