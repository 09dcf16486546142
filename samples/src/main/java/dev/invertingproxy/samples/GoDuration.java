package dev.invertingproxy.samples;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Durations written as Go's {@code time.ParseDuration} reads them, so the reference agent's flag
 * values work unchanged: {@code 60s}, {@code 1m30s}, {@code 500ms}, {@code 2h}, {@code 1.5s},
 * {@code 0}. Units {@code ns}, {@code us} ({@code µs}), {@code ms}, {@code s}, {@code m}, {@code
 * h}; an optional sign; a number without unit only for zero. As in Go, the value must fit in 2^63
 * nanoseconds and fractions below a nanosecond are dropped.
 */
final class GoDuration {
  private static final String EXAMPLES = "write it as Go does: 60s, 1m30s, 500ms, 2h, 1.5s or 0";

  private static final Map<String, Long> NANOS_PER_UNIT =
      Map.of(
          "ns", 1L,
          "us", 1_000L,
          "\u00b5s", 1_000L, // micro sign
          "\u03bcs", 1_000L, // Greek small letter mu
          "ms", 1_000_000L,
          "s", 1_000_000_000L,
          "m", 60_000_000_000L,
          "h", 3_600_000_000_000L);

  private static final BigInteger MAX = BigInteger.valueOf(Long.MAX_VALUE);
  private static final BigInteger MIN_MAGNITUDE = MAX.add(BigInteger.ONE); // |Long.MIN_VALUE|

  private GoDuration() {}

  /**
   * Parses {@code text} like Go's {@code time.ParseDuration}.
   *
   * @throws IllegalArgumentException with a message naming the value if it is not a duration
   */
  static Duration parse(String text) {
    String s = text;
    boolean negative = false;
    if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) {
      negative = s.charAt(0) == '-';
      s = s.substring(1);
    }
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    if (s.isEmpty()) {
      throw invalid(text);
    }
    BigInteger total = BigInteger.ZERO;
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c != '.' && !isDigit(c)) {
        throw invalid(text);
      }
      int start = i;
      while (i < s.length() && isDigit(s.charAt(i))) {
        i++;
      }
      boolean wholeDigits = i > start;
      boolean fractionDigits = false;
      if (i < s.length() && s.charAt(i) == '.') {
        i++;
        int fractionStart = i;
        while (i < s.length() && isDigit(s.charAt(i))) {
          i++;
        }
        fractionDigits = i > fractionStart;
      }
      if (!wholeDigits && !fractionDigits) {
        throw invalid(text);
      }
      String number = s.substring(start, i);
      int unitStart = i;
      while (i < s.length() && s.charAt(i) != '.' && !isDigit(s.charAt(i))) {
        i++;
      }
      if (i == unitStart) {
        throw new IllegalArgumentException(
            "missing unit in duration \"" + text + "\" (" + EXAMPLES + ")");
      }
      String unit = s.substring(unitStart, i);
      Long nanos = NANOS_PER_UNIT.get(unit);
      if (nanos == null) {
        throw new IllegalArgumentException(
            "unknown unit \""
                + unit
                + "\" in duration \""
                + text
                + "\" (units: ns, us, ms, s, m, h; "
                + EXAMPLES
                + ")");
      }
      BigDecimal value = new BigDecimal(number.endsWith(".") ? number + "0" : number);
      total = total.add(value.multiply(BigDecimal.valueOf(nanos)).toBigInteger());
      if (total.compareTo(MIN_MAGNITUDE) > 0) {
        throw invalid(text);
      }
    }
    if (negative) {
      total = total.negate();
    } else if (total.compareTo(MAX) > 0) {
      throw invalid(text);
    }
    return Duration.ofNanos(total.longValueExact());
  }

  /**
   * Formats {@code duration} the way Go prints it ({@code 1m30s}, {@code 500ms}, {@code 0s}), but
   * with {@code us} for microseconds (ASCII for any console).
   */
  static String format(Duration duration) {
    if (duration.isZero()) {
      return "0s";
    }
    StringBuilder text = new StringBuilder(duration.isNegative() ? "-" : "");
    Duration d = duration.abs();
    if (d.compareTo(Duration.ofSeconds(1)) < 0) {
      long nanos = d.toNanos();
      if (nanos < 1_000) {
        return text.append(nanos).append("ns").toString();
      }
      if (nanos < 1_000_000) {
        return text.append(decimal(nanos, 3)).append("us").toString();
      }
      return text.append(decimal(nanos, 6)).append("ms").toString();
    }
    long hours = d.toHours();
    int minutes = d.toMinutesPart();
    if (hours > 0) {
      text.append(hours).append('h');
    }
    if (hours > 0 || minutes > 0) {
      text.append(minutes).append('m');
    }
    text.append(decimal(d.toSecondsPart() * 1_000_000_000L + d.toNanosPart(), 9));
    return text.append('s').toString();
  }

  /** {@code value / 10^digits} with its fraction, trailing zeros dropped: 1500, 3 gives 1.5. */
  private static String decimal(long value, int digits) {
    return BigDecimal.valueOf(value, digits).stripTrailingZeros().toPlainString();
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static IllegalArgumentException invalid(String text) {
    return new IllegalArgumentException("invalid duration \"" + text + "\" (" + EXAMPLES + ")");
  }

  /** The picocli converter for duration flags: Go syntax, negative values refused. */
  static final class Converter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      Duration duration;
      try {
        duration = parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
      if (duration.isNegative()) {
        throw new TypeConversionException(
            "negative duration \"" + value + "\" (" + EXAMPLES + ")");
      }
      return duration;
    }
  }
}
