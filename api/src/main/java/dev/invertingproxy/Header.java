package dev.invertingproxy;

import java.util.Objects;

/**
 * One header field as it appeared on the wire: the name keeps its original case.
 *
 * @param name the field name, never empty
 * @param value the field value, without leading or trailing whitespace
 * @since 0.1
 */
public record Header(String name, String value) {
  public Header {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(value, "value");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("header name is empty");
    }
  }

  /** Returns true if this header's name equals {@code other}, ignoring ASCII case. */
  public boolean is(String other) {
    return name.equalsIgnoreCase(other);
  }

  @Override
  public String toString() {
    return name + ": " + value;
  }
}
