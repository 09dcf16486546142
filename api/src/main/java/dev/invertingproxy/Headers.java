package dev.invertingproxy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * An immutable, ordered list of header fields. Order, name case and repetitions are kept exactly;
 * look-ups ignore ASCII case.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class Headers {
  private static final Headers EMPTY = new Headers(List.of());

  private final List<Header> fields;

  private Headers(List<Header> fields) {
    this.fields = fields;
  }

  /** Returns an empty header list. */
  public static Headers empty() {
    return EMPTY;
  }

  /** Returns headers holding {@code fields} in the given order. */
  public static Headers of(List<Header> fields) {
    return fields.isEmpty() ? EMPTY : new Headers(List.copyOf(fields));
  }

  /** Returns headers from alternating names and values: {@code of("A", "1", "B", "2")}. */
  public static Headers of(String... namesAndValues) {
    if (namesAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("expected name/value pairs, got an odd count");
    }
    Builder builder = builder();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      builder.add(namesAndValues[i], namesAndValues[i + 1]);
    }
    return builder.build();
  }

  /** Returns a new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder holding these fields. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.fields.addAll(fields);
    return builder;
  }

  /** Returns every field, in order; unmodifiable. */
  public List<Header> fields() {
    return fields;
  }

  public int size() {
    return fields.size();
  }

  public boolean isEmpty() {
    return fields.isEmpty();
  }

  /** Returns the value of the first field named {@code name} (any case). */
  public Optional<String> first(String name) {
    for (Header field : fields) {
      if (field.is(name)) {
        return Optional.of(field.value());
      }
    }
    return Optional.empty();
  }

  /** Returns the values of all fields named {@code name} (any case), in order. */
  public List<String> all(String name) {
    List<String> values = new ArrayList<>(2);
    for (Header field : fields) {
      if (field.is(name)) {
        values.add(field.value());
      }
    }
    return Collections.unmodifiableList(values);
  }

  /** Returns true if a field named {@code name} (any case) is present. */
  public boolean contains(String name) {
    return first(name).isPresent();
  }

  /** Returns these headers without the fields that {@code drop} accepts (this if none). */
  public Headers without(Predicate<Header> drop) {
    List<Header> kept = null;
    for (int i = 0; i < fields.size(); i++) {
      Header field = fields.get(i);
      if (drop.test(field)) {
        if (kept == null) {
          kept = new ArrayList<>(fields.subList(0, i));
        }
      } else if (kept != null) {
        kept.add(field);
      }
    }
    return kept == null ? this : of(kept);
  }

  /** Returns these headers without any field named {@code name} (any case). */
  public Headers without(String name) {
    return without(field -> field.is(name));
  }

  /** Returns these headers with every {@code name} field removed and one {@code name: value} appended. */
  public Headers with(String name, String value) {
    return without(name).toBuilder().add(name, value).build();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Headers other && fields.equals(other.fields);
  }

  @Override
  public int hashCode() {
    return fields.hashCode();
  }

  @Override
  public String toString() {
    return fields.toString();
  }

  /**
   * Builds {@link Headers}.
   *
   * <p>This class is not thread-safe.
   */
  public static final class Builder {
    private final List<Header> fields = new ArrayList<>();

    private Builder() {}

    /** Appends a field. */
    public Builder add(String name, String value) {
      fields.add(new Header(name, value));
      return this;
    }

    /** Appends a field. */
    public Builder add(Header header) {
      fields.add(Objects.requireNonNull(header, "header"));
      return this;
    }

    /** Appends every field of {@code headers}. */
    public Builder addAll(Headers headers) {
      fields.addAll(headers.fields);
      return this;
    }

    public Headers build() {
      return of(fields);
    }
  }
}
