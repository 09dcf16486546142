package dev.invertingproxy.core.protocol;

import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The protocol extensions a proxy announces in {@link ProtocolHeaders#CAPABILITIES} on its poll
 * answers: parsed by the agent, formatted by the proxy. The reference proxies announce none.
 *
 * <p>Instances are immutable.
 *
 * @since 0.1
 */
public final class Capabilities {
  /** Cancel notices: {@code agent/cancelled} names requests whose clients left. */
  public static final String CANCEL_NOTICES = "cancel-notices";

  /** Requests handed out by the poll itself: {@code agent/next}, one call instead of two. */
  public static final String NEXT_REQUEST = "next-request";

  /** The agent's goodbye: {@code agent/leave}, so the proxy stops counting it at once. */
  public static final String LEAVE_NOTICE = "leave-notice";

  /** None: what a reference proxy announces. */
  public static final Capabilities NONE = new Capabilities(Set.of());

  /** What this project's proxy offers. */
  public static final Capabilities OFFERED =
      new Capabilities(orderedSet(CANCEL_NOTICES, NEXT_REQUEST, LEAVE_NOTICE));

  private final Set<String> names;

  private Capabilities(Set<String> names) {
    this.names = names;
  }

  /** Returns the capabilities named (case-insensitive; stored lower case). */
  public static Capabilities of(String... names) {
    Set<String> set = new LinkedHashSet<>();
    for (String name : names) {
      set.add(name.strip().toLowerCase(Locale.ROOT));
    }
    return new Capabilities(java.util.Collections.unmodifiableSet(set));
  }

  /** Parses the header's value: comma-separated names, blanks ignored; null or blank is none. */
  public static Capabilities parse(@Nullable String header) {
    if (header == null || header.isBlank()) {
      return NONE;
    }
    Set<String> set = new LinkedHashSet<>();
    for (String token : header.split(",")) {
      if (!token.isBlank()) {
        set.add(token.strip().toLowerCase(Locale.ROOT));
      }
    }
    return new Capabilities(Set.copyOf(set));
  }

  /** Returns true if {@code name} (one of the constants) is announced. */
  public boolean has(String name) {
    return names.contains(name);
  }

  /** Returns the names announced. */
  public Set<String> names() {
    return names;
  }

  /** Returns the header's value: the names, comma separated. */
  public String format() {
    return String.join(", ", names);
  }

  private static Set<String> orderedSet(String... names) {
    return java.util.Collections.unmodifiableSet(new LinkedHashSet<>(java.util.List.of(names)));
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Capabilities that && names.equals(that.names);
  }

  @Override
  public int hashCode() {
    return names.hashCode();
  }

  @Override
  public String toString() {
    return names.isEmpty() ? "(none)" : format();
  }
}
