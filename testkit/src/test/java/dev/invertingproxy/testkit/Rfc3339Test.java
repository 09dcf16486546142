package dev.invertingproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.format.DateTimeFormatter;
import org.junit.jupiter.api.Test;

class Rfc3339Test {
  @Test
  void acceptsWhatGoAccepts() {
    assertThat(Rfc3339.parseAsGo("2026-01-02T03:04:05Z")).isEqualTo("2026-01-02T03:04:05Z");
    assertThat(Rfc3339.parseAsGo("2026-01-02T03:04:05.123456789Z"))
        .isEqualTo("2026-01-02T03:04:05.123456789Z");
    assertThat(Rfc3339.parseAsGo("2026-01-02T03:04:05.5+02:00"))
        .isEqualTo("2026-01-02T01:04:05.500Z");
    // what the engine writes
    Instant now = Instant.now();
    assertThat(Rfc3339.parseAsGo(DateTimeFormatter.ISO_INSTANT.format(now))).isEqualTo(now);
  }

  @Test
  void refusesWhatGoRefuses() {
    for (String bad :
        new String[] {
          "2026-01-02 03:04:05Z",
          "2026-01-02T03:04:05",
          "2026-01-02T03:04:05.1234567891Z",
          "2026-01-02T03:04:05+0200",
          "2026-13-02T03:04:05Z",
          "Fri, 02 Jan 2026 03:04:05 GMT",
          ""
        }) {
      assertThat(Rfc3339.isGoParseable(bad)).as(bad).isFalse();
    }
    assertThatThrownBy(() -> Rfc3339.parseAsGo("2026-02-30T00:00:00Z"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
