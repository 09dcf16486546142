package dev.invertingproxy.spi;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * Options every storage honours.
 *
 * @param clock the time source (tests inject one)
 * @param maxPendingPerBackend how many requests may wait for one backend before {@code submit}
 *     is refused; default 1000
 * @param reofferDelay after this long an offered but unclaimed ID may be offered again; default 5
 *     s
 * @param answeredMemory how long the ID of an answered request is remembered, so that a second
 *     response is told "duplicate" (409) rather than "unknown" (404); default 5 min
 * @since 0.1
 */
public record StorageOptions(
    Clock clock, int maxPendingPerBackend, Duration reofferDelay, Duration answeredMemory) {

  public StorageOptions {
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(reofferDelay, "reofferDelay");
    Objects.requireNonNull(answeredMemory, "answeredMemory");
    if (maxPendingPerBackend < 1) {
      throw new IllegalArgumentException(
          "maxPendingPerBackend must be >= 1, was " + maxPendingPerBackend);
    }
    if (reofferDelay.isNegative() || answeredMemory.isNegative()) {
      throw new IllegalArgumentException("durations must not be negative");
    }
  }

  /** Returns the defaults with the system clock. */
  public static StorageOptions defaults() {
    return new StorageOptions(
        Clock.systemUTC(), 1000, Duration.ofSeconds(5), Duration.ofMinutes(5));
  }

  /** Returns a copy with another clock. */
  public StorageOptions withClock(Clock newClock) {
    return new StorageOptions(newClock, maxPendingPerBackend, reofferDelay, answeredMemory);
  }

  /** Returns a copy with another queue limit. */
  public StorageOptions withMaxPendingPerBackend(int max) {
    return new StorageOptions(clock, max, reofferDelay, answeredMemory);
  }
}
