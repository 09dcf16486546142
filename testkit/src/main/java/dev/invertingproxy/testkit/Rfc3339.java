package dev.invertingproxy.testkit;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.regex.Pattern;

/**
 * Checks time stamps the way the reference Go agent reads {@code
 * X-Inverting-Proxy-Request-Start-Time}: {@code time.Parse(time.RFC3339Nano, value)}, which takes
 * {@code 2006-01-02T15:04:05Z}, an optional fraction of 1 to 9 digits, and {@code Z} or a numeric
 * offset {@code ±hh:mm}. A value it refuses makes the Go agent drop the request.
 *
 * <p>This class is thread-safe (stateless).
 */
public final class Rfc3339 {
  private static final Pattern GO_RFC3339_NANO =
      Pattern.compile(
          "\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])T([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d"
              + "(\\.\\d{1,9})?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d)");

  private Rfc3339() {}

  /**
   * Parses {@code text} as Go's {@code time.Parse(time.RFC3339Nano, text)} would.
   *
   * @throws IllegalArgumentException if Go would refuse it
   */
  public static Instant parseAsGo(String text) {
    if (!GO_RFC3339_NANO.matcher(text).matches()) {
      throw new IllegalArgumentException(
          "not an RFC 3339 time stamp that Go's time.RFC3339Nano layout accepts: '" + text + "'");
    }
    try {
      return OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("not a valid date: '" + text + "'", e);
    }
  }

  /** Returns true if Go's {@code time.RFC3339Nano} layout accepts {@code text}. */
  public static boolean isGoParseable(String text) {
    try {
      parseAsGo(text);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
