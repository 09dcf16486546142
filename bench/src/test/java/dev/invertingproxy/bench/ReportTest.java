package dev.invertingproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

/** The results page: medians, ratios to direct, failed cells, goals, and a well-formed chart. */
class ReportTest {
  private static Wrk.Result run(double rps, double p50, double p99) {
    return new Wrk.Result((long) (rps * 10), 10, rps, p50, p99, 0, 0, List.of());
  }

  private static Report sample() {
    Report report = new Report();
    for (int c : Bench.CONCURRENCY) {
      report.throughput("direct", c, List.of(run(40_000, 0.05, 1), run(50_000, 0.06, 2), run(45_000, 0.07, 3)), List.of(), null);
    }
    report.throughput("proxy, memory", 1, List.of(run(2_000, 0.2, 1), run(2_100, 0.25, 1), run(1_900, 0.3, 1)),
        List.of(100e-6, 120e-6, 110e-6), null);
    report.throughput("proxy, memory", 16, List.of(run(9_000, 1, 2)), List.of(90e-6), null);
    report.throughput("proxy, memory", 64, List.of(), List.of(), "3 answers not 2xx");
    return report;
  }

  @Test
  void medianRatiosAndFailures() {
    String md = sample().markdown("test machine");
    assertThat(md).contains("| direct | 1 | 45,000 |  | 0.060 | 2.000 |");
    // median 2,000 req/s = 4.4% of 45,000; p50 0.25 - 0.06 = 0.19 ms added; 110 µs CPU
    assertThat(md).contains("| proxy, memory | 1 | 2,000 | 4.4% | 0.250 | 1.000 | 0.190 ms | 110 | 3 |");
    assertThat(md).contains("| proxy, memory | 64 | FAILED: 3 answers not 2xx |");
    assertThat(md).contains("**met**: concurrency 1: added p50 ≤ 0.25 ms — measured 0.190 ms");
    // a failed cell never counts towards a goal
    assertThat(md).doesNotContain("concurrency 64: through-proxy");
  }

  @Test
  void goalsForLargeBodiesAndIdleAgents() {
    Report report = sample();
    report.large("download", 1L << 30, List.of(2.0, 2.2, 2.1), List.of(5.0, 4.0, 4.5), 200_000, 150_000, "-Xmx128m");
    report.idle(10_000, 10L << 20, 300L << 20, 40, 45, 900_000);
    String md = report.markdown("m");
    assertThat(md).contains("| download 1024 MiB | 2.10 s | 4.50 s | 2.14× | 195 MiB | 146 MiB | -Xmx128m |");
    assertThat(md).contains("**not met**: large download through the proxy ≤ 2× direct — measured 2.14×");
    assertThat(md).contains("**not met**: idle agents: heap < 256 MiB and no thread per waiting poll — measured 300 MiB, +5 threads for 10,000 waiting polls");
  }

  @Test
  void chartIsWellFormedSvgWithABarPerMeasuredCell() throws Exception {
    String svg = sample().svg();
    Document doc =
        DocumentBuilderFactory.newInstance()
            .newDocumentBuilder()
            .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    assertThat(doc.getDocumentElement().getNodeName()).isEqualTo("svg");
    // background + 3 direct + 2 proxy bars (the failed cell has none) + 2 legend boxes
    assertThat(doc.getElementsByTagName("rect").getLength()).isEqualTo(1 + 3 + 2 + 2);
  }

  @Test
  void idleGoalMetWhenHeapIsSmallAndThreadsDoNotFollowPolls() {
    Report report = sample();
    report.idle(10_000, 5L << 20, 81L << 20, 29, 224, 272 << 10);
    assertThat(report.markdown("m"))
        .contains("**met**: idle agents: heap < 256 MiB and no thread per waiting poll — measured 81 MiB, +195 threads for 10,000 waiting polls");
    Report threadPerPoll = sample();
    threadPerPoll.idle(10_000, 5L << 20, 81L << 20, 29, 20_029, 272 << 10);
    assertThat(threadPerPoll.markdown("m")).contains("**not met**: idle agents");
  }
}
