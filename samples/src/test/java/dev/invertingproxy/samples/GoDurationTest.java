package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class GoDurationTest {

  @ParameterizedTest(name = "{0} = {1} ns")
  @CsvSource({
    "0, 0",
    "+0, 0",
    "-0, 0",
    "0s, 0",
    "60s, 60000000000",
    "1m30s, 90000000000",
    "500ms, 500000000",
    "2h, 7200000000000",
    "1.5s, 1500000000",
    ".5s, 500000000",
    "5.s, 5000000000",
    "1.5h, 5400000000000",
    "1h2m3s4ms5us6ns, 3723004005006",
    "100ns, 100",
    "1us, 1000",
    "1\u00b5s, 1000",
    "1\u03bcs, 1000",
    "3m3m, 360000000000",
    "0.0000000001s, 0",
    "1.0000000019s, 1000000001",
    "-1.5s, -1500000000",
    "+2m, 120000000000",
    "2562047h47m16.854775807s, 9223372036854775807",
    "-2562047h47m16.854775808s, -9223372036854775808",
  })
  void parsesWhatGoParses(String text, long nanos) {
    assertThat(GoDuration.parse(text)).isEqualTo(Duration.ofNanos(nanos));
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(
      strings = {
        "", "banana", "s", ".s", "+", "-", ".", "-.s", "1s ", " 1s", "1 s", "PT60S", "1,5s",
        "2562047h47m16.854775808s", "9999999999999999999h"
      })
  void rejectsGarbage(String text) {
    assertThatThrownBy(() -> GoDuration.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"" + text + "\"")
        .hasMessageContaining("60s, 1m30s");
  }

  @Test
  void namesAMissingUnit() {
    assertThatThrownBy(() -> GoDuration.parse("60"))
        .hasMessageStartingWith("missing unit in duration \"60\"");
    assertThatThrownBy(() -> GoDuration.parse("1.2.3s")).hasMessageStartingWith("missing unit");
  }

  @Test
  void namesAnUnknownUnit() {
    assertThatThrownBy(() -> GoDuration.parse("5sec"))
        .hasMessageStartingWith("unknown unit \"sec\" in duration \"5sec\"");
    assertThatThrownBy(() -> GoDuration.parse("1S")).hasMessageStartingWith("unknown unit \"S\"");
    assertThatThrownBy(() -> GoDuration.parse("1d")).hasMessageContaining("units: ns, us, ms, s, m, h");
  }

  @Test
  void converterRefusesNegativeAndGarbageWithAClearMessage() {
    GoDuration.Converter converter = new GoDuration.Converter();
    assertThat(converter.convert("1m30s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(converter.convert("0")).isEqualTo(Duration.ZERO);
    assertThatThrownBy(() -> converter.convert("-1s"))
        .isInstanceOf(TypeConversionException.class)
        .hasMessageStartingWith("negative duration \"-1s\"");
    assertThatThrownBy(() -> converter.convert("soon"))
        .isInstanceOf(TypeConversionException.class)
        .hasMessageStartingWith("invalid duration \"soon\"");
  }

  @ParameterizedTest(name = "{0} prints as {1}")
  @CsvSource({
    "0, 0s",
    "500000000, 500ms",
    "1500, 1.5us",
    "1000, 1us",
    "7, 7ns",
    "1500000, 1.5ms",
    "1500000000, 1.5s",
    "61500000000, 1m1.5s",
    "60000000000, 1m0s",
    "90000000000, 1m30s",
    "7200000000000, 2h0m0s",
    "-1500000000, -1.5s",
  })
  void formatsAsGoPrints(long nanos, String text) {
    assertThat(GoDuration.format(Duration.ofNanos(nanos))).isEqualTo(text);
    assertThat(GoDuration.parse(text)).isEqualTo(Duration.ofNanos(nanos));
  }
}
