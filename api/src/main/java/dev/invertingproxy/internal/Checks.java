package dev.invertingproxy.internal;

import java.time.Duration;
import java.util.Objects;

/**
 * Argument checks of the builders: each names the parameter and the allowed range. Internal: not
 * part of the API (exported to the project's own modules only).
 */
public final class Checks {
  private Checks() {}

  /** Returns {@code value} if it is above zero. */
  public static Duration positive(Duration value, String name) {
    Objects.requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, was " + value);
    }
    return value;
  }

  /** Returns {@code value} if it is zero or above. */
  public static Duration notNegative(Duration value, String name) {
    Objects.requireNonNull(value, name);
    if (value.isNegative()) {
      throw new IllegalArgumentException(name + " must not be negative, was " + value);
    }
    return value;
  }

  /** Returns {@code value} if it lies in {@code [min, max]}. */
  public static int inRange(int value, int min, int max, String name) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(name + " must be " + min + ".." + max + ", was " + value);
    }
    return value;
  }
}
