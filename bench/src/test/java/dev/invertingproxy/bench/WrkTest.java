package dev.invertingproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading wrk's reports: numbers, units, and what makes a run count as failed. */
class WrkTest {
  private static final String CLEAN =
      """
      Running 2s test @ http://127.0.0.1:18080/x
        1 threads and 1 connections
        Thread Stats   Avg      Stdev     Max   +/- Stdev
          Latency   367.81us    0.91ms   8.81ms   89.46%
          Req/Sec    25.40k     7.71k   37.08k    75.00%
        Latency Distribution
           50%   26.00us
           75%   53.00us
           90%    1.36ms
           99%    4.36ms
        50511 requests in 2.00s, 16.23MB read
      Requests/sec:  25197.28
      Transfer/sec:      8.10MB
      """;

  @Test
  void readsRateRequestsAndPercentilesInMilliseconds() {
    Wrk.Result result = Wrk.parse(CLEAN);
    assertThat(result.requests()).isEqualTo(50511);
    assertThat(result.seconds()).isCloseTo(2.0, within(1e-9));
    assertThat(result.rps()).isCloseTo(25197.28, within(1e-9));
    assertThat(result.p50()).isCloseTo(0.026, within(1e-9));
    assertThat(result.p99()).isCloseTo(4.36, within(1e-9));
    assertThat(result.ok()).isTrue();
  }

  @Test
  void socketErrorsOrBadStatusesFailTheRun() {
    String errors =
        CLEAN.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 1, timeout 2\n  Non-2xx or 3xx responses: 7\nRequests/sec");
    Wrk.Result result = Wrk.parse(errors);
    assertThat(result.ok()).isFalse();
    assertThat(result.socketErrors()).isEqualTo(6);
    assertThat(result.non2xx()).isEqualTo(7);
    assertThat(result.failure()).isEqualTo("7 answers not 2xx, 6 socket errors");
  }

  @Test
  void theStatusScriptsLinesSayWhatFailed() {
    String described =
        CLEAN.replace("Requests/sec", "  Non-2xx or 3xx responses: 3\nRequests/sec")
            + "bad status 503: 3\nbad body 503: no agent is connected for backend default\n";
    Wrk.Result result = Wrk.parse(described);
    assertThat(result.badAnswers())
        .containsExactly("bad status 503: 3", "bad body 503: no agent is connected for backend default");
    assertThat(result.failure())
        .isEqualTo("3 answers not 2xx, bad status 503: 3, bad body 503: no agent is connected for backend default");
    assertThat(result.plus(Wrk.parse(CLEAN)).badAnswers()).hasSize(2);
  }

  @Test
  void theStatusScriptShipsInTheJar(@TempDir Path dir) throws Exception {
    Path script = Wrk.statusScript(dir);
    assertThat(Files.readString(script)).contains("function response(status");
  }

  @Test
  void secondsAndMinutesInPercentiles() {
    String slow = CLEAN.replace("99%    4.36ms", "99%    1.50s").replace("50%   26.00us", "50%    1.00m");
    Wrk.Result result = Wrk.parse(slow);
    assertThat(result.p99()).isCloseTo(1500, within(1e-9));
    assertThat(result.p50()).isCloseTo(60_000, within(1e-9));
  }

  @Test
  void aReportWithoutTheDistributionIsRefused() {
    String noLatency = CLEAN.replaceAll("(?m)^\\s+\\d\\d%.*\\n", "");
    assertThatThrownBy(() -> Wrk.parse(noLatency)).hasMessageContaining("--latency");
    assertThatThrownBy(() -> Wrk.parse("unable to connect to 127.0.0.1:1 Connection refused"))
        .hasMessageContaining("not a wrk report");
  }

  @Test
  void parallelRunsAddRatesAndKeepTheWorstLatency() {
    Wrk.Result a = Wrk.parse(CLEAN);
    Wrk.Result b = Wrk.parse(CLEAN.replace("99%    4.36ms", "99%    9.00ms"));
    Wrk.Result both = a.plus(b);
    assertThat(both.requests()).isEqualTo(2 * 50511);
    assertThat(both.rps()).isCloseTo(2 * 25197.28, within(1e-6));
    assertThat(both.p99()).isCloseTo(9.0, within(1e-9));
  }
}
