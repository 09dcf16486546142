package dev.invertingproxy.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The benchmark's findings as a Markdown page and an SVG chart. Cells hold medians of several
 * runs; ratios compare with the direct runs of the same benchmark.
 */
final class Report {
  static final String DIRECT = "direct";

  /** One scenario at one concurrency: medians of the runs, or why it failed. */
  record Cell(
      int runs, double rps, double p50, double p99, double cpuMicros, @Nullable String failure) {}

  private final Map<String, Map<Integer, Cell>> throughput = new LinkedHashMap<>();
  private final List<String> large = new ArrayList<>();
  private final Map<String, double[]> largeRatios = new LinkedHashMap<>();
  private final List<String> notes = new ArrayList<>();
  private @Nullable String idle;
  private long idleHeap = -1;
  private long idleThreadsAdded = -1;
  private int idleAgents;
  private @Nullable String redisMemory;

  void throughput(
      String scenario, int concurrency, List<Wrk.Result> runs, List<Double> cpuPerRequest, @Nullable String failure) {
    Cell cell =
        failure != null
            ? new Cell(runs.size(), Double.NaN, Double.NaN, Double.NaN, Double.NaN, failure)
            : new Cell(
                runs.size(),
                median(runs.stream().map(Wrk.Result::rps).toList()),
                median(runs.stream().map(Wrk.Result::p50).toList()),
                median(runs.stream().map(Wrk.Result::p99).toList()),
                cpuPerRequest.isEmpty() ? Double.NaN : median(cpuPerRequest) * 1e6,
                null);
    throughput.computeIfAbsent(scenario, s -> new LinkedHashMap<>()).put(concurrency, cell);
  }

  void large(
      String direction,
      long bytes,
      List<Double> direct,
      List<Double> viaProxy,
      long peakProxyKib,
      long peakAgentKib,
      String heap) {
    double d = median(direct);
    double p = median(viaProxy);
    largeRatios.put(direction, new double[] {d, p});
    large.add(
        String.format(
            Locale.ROOT,
            "| %s %d MiB | %.2f s | %.2f s | %.2f× | %d MiB | %d MiB | %s |",
            direction,
            bytes >> 20,
            d,
            p,
            p / d,
            peakProxyKib >> 10,
            peakAgentKib >> 10,
            heap));
  }

  void idle(int agents, long heapBefore, long heapAfter, long threadsBefore, long threadsAfter, long rssKib) {
    idleHeap = heapAfter;
    idleThreadsAdded = threadsAfter - threadsBefore;
    idleAgents = agents;
    idle =
        String.format(
            Locale.ROOT,
            "| %d | %d MiB | %d MiB | %d | %d | %d MiB |",
            agents,
            heapBefore >> 20,
            heapAfter >> 20,
            threadsBefore,
            threadsAfter,
            rssKib >> 10);
  }

  void redisMemory(int parked, long before, long after) {
    redisMemory =
        String.format(
            Locale.ROOT,
            "Redis `used_memory` with %d requests parked on one node (no agent): %d KiB before, %d KiB"
                + " after, **%d bytes per parked request**.",
            parked,
            before >> 10,
            after >> 10,
            (after - before) / parked);
  }

  void note(String note) {
    notes.add(note);
  }

  String markdown(String machine) {
    StringBuilder md = new StringBuilder();
    md.append("# Benchmark results\n\n");
    md.append("Produced by `bench/run` (see the README). Machine:\n\n```\n").append(machine).append("\n```\n\n");
    md.append("## Throughput and latency: 100-byte GET from nginx\n\n");
    md.append("Load from `wrk` in its own process; nginx, proxy, agent (and Redis) in their own processes. ")
        .append("CPU is the user+system time of the proxy and agent processes (and Redis) per request. ")
        .append("A run with a socket error or a status above 399 fails the cell.\n\n");
    md.append("| setup | concurrency | req/s | % of direct | p50 ms | p99 ms | p50 added | CPU µs/req | runs |\n");
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    Map<Integer, Cell> direct = throughput.getOrDefault(DIRECT, Map.of());
    for (Map.Entry<String, Map<Integer, Cell>> scenario : throughput.entrySet()) {
      for (Map.Entry<Integer, Cell> entry : scenario.getValue().entrySet()) {
        Cell cell = entry.getValue();
        Cell base = direct.get(entry.getKey());
        if (cell.failure() != null) {
          md.append(String.format(Locale.ROOT, "| %s | %d | FAILED: %s | | | | | | %d |\n",
              scenario.getKey(), entry.getKey(), cell.failure(), cell.runs()));
          continue;
        }
        boolean isDirect = scenario.getKey().equals(DIRECT);
        md.append(
            String.format(
                Locale.ROOT,
                "| %s | %d | %,.0f | %s | %.3f | %.3f | %s | %s | %d |\n",
                scenario.getKey(),
                entry.getKey(),
                cell.rps(),
                isDirect || base == null ? "" : String.format(Locale.ROOT, "%.1f%%", 100 * cell.rps() / base.rps()),
                cell.p50(),
                cell.p99(),
                isDirect || base == null ? "" : String.format(Locale.ROOT, "%.3f ms", cell.p50() - base.p50()),
                Double.isNaN(cell.cpuMicros()) ? "" : String.format(Locale.ROOT, "%.0f", cell.cpuMicros()),
                cell.runs()));
      }
    }
    md.append("\n![requests per second](throughput.svg)\n\n");
    if (redisMemory != null) {
      md.append(redisMemory).append("\n\n");
    }
    if (!large.isEmpty()) {
      md.append("## Large bodies\n\n")
          .append("One client (JDK HttpClient in the benchmark's JVM) against a Java backend in its own JVM; ")
          .append("the answer's byte count is checked. Peak RSS is VmHWM of the process during the proxied transfer.\n\n")
          .append("| transfer | direct | via proxy + agent | ratio | proxy peak RSS | agent peak RSS | heap limit each |\n")
          .append("|---|---:|---:|---:|---:|---:|---|\n");
      large.forEach(row -> md.append(row).append('\n'));
      md.append('\n');
    }
    if (idle != null) {
      md.append("## Idle agents on one proxy\n\n")
          .append("Each agent has its own backend ID and keeps one long poll (`agent/next`) open, as our agent ")
          .append("does when idle. Heap is measured after a full GC (jcmd).\n\n")
          .append("| agents | heap before | heap with agents | threads before | threads with agents | RSS |\n")
          .append("|---:|---:|---:|---:|---:|---:|\n")
          .append(idle)
          .append("\n\n");
    }
    md.append("## Goals\n\n");
    goals(md, direct);
    for (String note : notes) {
      md.append("\n").append(note).append('\n');
    }
    return md.toString();
  }

  private void goals(StringBuilder md, Map<Integer, Cell> direct) {
    Map<Integer, Cell> proxy = throughput.get("proxy, memory");
    if (proxy != null && direct.containsKey(64) && proxy.containsKey(64) && proxy.get(64).failure() == null) {
      double share = 100 * proxy.get(64).rps() / direct.get(64).rps();
      md.append(goal(share >= 20, String.format(Locale.ROOT,
          "concurrency 64: through-proxy throughput ≥ 20%% of direct — measured %.1f%%", share)));
    }
    if (proxy != null && direct.containsKey(1) && proxy.containsKey(1) && proxy.get(1).failure() == null) {
      double added = proxy.get(1).p50() - direct.get(1).p50();
      md.append(goal(added <= 0.25, String.format(Locale.ROOT,
          "concurrency 1: added p50 ≤ 0.25 ms — measured %.3f ms", added)));
    }
    if (idleHeap >= 0) {
      // One poll per idle agent; "no thread per poll" means threads stay far below the poll count.
      long polls = idleAgents;
      md.append(goal(idleHeap < 256L << 20 && idleThreadsAdded * 10 < polls, String.format(Locale.ROOT,
          "idle agents: heap < 256 MiB and no thread per waiting poll — measured %d MiB, %+d threads"
              + " for %,d waiting polls",
          idleHeap >> 20, idleThreadsAdded, polls)));
    }
    for (Map.Entry<String, double[]> entry : largeRatios.entrySet()) {
      double ratio = entry.getValue()[1] / entry.getValue()[0];
      md.append(goal(ratio <= 2, String.format(Locale.ROOT,
          "large %s through the proxy ≤ 2× direct — measured %.2f×", entry.getKey(), ratio)));
    }
  }

  private static String goal(boolean met, String text) {
    return "- " + (met ? "**met**" : "**not met**") + ": " + text + "\n";
  }

  /** Requests per second by concurrency, one bar per setup, on a logarithmic axis. */
  String svg() {
    int width = 720;
    int height = 360;
    int left = 70;
    int right = 180;
    int top = 30;
    int bottom = 50;
    double min = 2; // log10(100)
    double max = 5.3; // log10(~200,000)
    List<String> scenarios = new ArrayList<>(throughput.keySet());
    String[] colors = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"};
    StringBuilder svg = new StringBuilder();
    svg.append(String.format(Locale.ROOT,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n",
        width, height));
    svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    svg.append(String.format(Locale.ROOT,
        "<text x=\"%d\" y=\"18\" font-size=\"14\">Requests per second, 100-byte GET (log scale; medians)</text>\n", left));
    int plotWidth = width - left - right;
    int plotHeight = height - top - bottom;
    for (int power = 2; power <= 5; power++) {
      double y = top + plotHeight * (1 - (power - min) / (max - min));
      svg.append(String.format(Locale.ROOT,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
              + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
          left, y, left + plotWidth, y, left - 6, y + 4, String.format(Locale.ROOT, "%,d", (long) Math.pow(10, power))));
    }
    int groups = Bench.CONCURRENCY.length;
    double groupWidth = plotWidth / (double) groups;
    double barWidth = groupWidth * 0.8 / Math.max(1, scenarios.size());
    for (int g = 0; g < groups; g++) {
      int concurrency = Bench.CONCURRENCY[g];
      double x0 = left + g * groupWidth + groupWidth * 0.1;
      for (int s = 0; s < scenarios.size(); s++) {
        Cell cell = throughput.get(scenarios.get(s)).get(concurrency);
        if (cell != null && cell.failure() != null) {
          svg.append(String.format(Locale.ROOT,
              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\" fill=\"%s\">failed</text>\n",
              x0 + s * barWidth + (barWidth - 2) / 2, top + plotHeight - 4, colors[s % colors.length]));
          continue;
        }
        if (cell == null || cell.rps() <= 0) {
          continue;
        }
        double value = Math.max(min, Math.min(max, Math.log10(cell.rps())));
        double barHeight = plotHeight * (value - min) / (max - min);
        double x = x0 + s * barWidth;
        double y = top + plotHeight - barHeight;
        svg.append(String.format(Locale.ROOT,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
                + "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%s</text>\n",
            x, y, barWidth - 2, barHeight, colors[s % colors.length],
            x + (barWidth - 2) / 2, y - 3, compact(cell.rps())));
      }
      svg.append(String.format(Locale.ROOT,
          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">concurrency %d</text>\n",
          x0 + groupWidth * 0.4, top + plotHeight + 20, concurrency));
    }
    for (int s = 0; s < scenarios.size(); s++) {
      int y = top + 10 + s * 20;
      svg.append(String.format(Locale.ROOT,
          "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
          width - right + 15, y, colors[s % colors.length], width - right + 32, y + 10, escape(scenarios.get(s))));
    }
    svg.append("</svg>\n");
    return svg.toString();
  }

  private static String compact(double rps) {
    return rps >= 10_000
        ? String.format(Locale.ROOT, "%.0fk", rps / 1000)
        : rps >= 1000 ? String.format(Locale.ROOT, "%.1fk", rps / 1000) : String.format(Locale.ROOT, "%.0f", rps);
  }

  private static String escape(String text) {
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }

  static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Double> sorted = values.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }
}
