package dev.invertingproxy.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Runs {@code wrk} (HTTP load from its own process) and reads its report.
 *
 * <p>A run counts only when every answer was good: wrk counts statuses above 399 as "Non-2xx or
 * 3xx responses" and connection failures as "Socket errors"; either makes the run failed. (A 3xx
 * cannot pass unnoticed: {@link Bench} checks before each run that the URL answers 200 with the
 * exact expected body.) Run with {@code statuses.lua}, wrk also prints the status and the start of
 * the body of the failed answers: a failed run then says what failed.
 */
final class Wrk {
  private static final Pattern REQUESTS =
      Pattern.compile("^\\s*(\\d+) requests in ([\\d.]+)(us|ms|s|m)", Pattern.MULTILINE);
  private static final Pattern RATE = Pattern.compile("^Requests/sec:\\s+([\\d.]+)", Pattern.MULTILINE);
  private static final Pattern PERCENTILE =
      Pattern.compile("^\\s+(50|75|90|99)(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m)\\s*$", Pattern.MULTILINE);
  private static final Pattern NON_2XX =
      Pattern.compile("^\\s*Non-2xx or 3xx responses:\\s+(\\d+)", Pattern.MULTILINE);
  private static final Pattern BAD_ANSWER =
      Pattern.compile("^bad (?:status|body) (\\d+): (.*)$", Pattern.MULTILINE);
  private static final Pattern SOCKET_ERRORS =
      Pattern.compile(
          "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)", Pattern.MULTILINE);

  private Wrk() {}

  /** One wrk report. Latencies in milliseconds. */
  record Result(
      long requests,
      double seconds,
      double rps,
      double p50,
      double p99,
      long non2xx,
      long socketErrors,
      List<String> badAnswers) {

    Result {
      badAnswers = List.copyOf(badAnswers);
    }

    boolean ok() {
      return requests > 0 && non2xx == 0 && socketErrors == 0;
    }

    String failure() {
      if (requests == 0) {
        return "no request completed";
      }
      List<String> why = new ArrayList<>();
      if (non2xx > 0) {
        why.add(non2xx + " answers not 2xx");
      }
      why.addAll(badAnswers);
      if (socketErrors > 0) {
        why.add(socketErrors + " socket errors");
      }
      return String.join(", ", why);
    }

    /** Two runs at once against different nodes: requests and rates add up, latencies the worst. */
    Result plus(Result other) {
      return new Result(
          requests + other.requests,
          Math.max(seconds, other.seconds),
          rps + other.rps,
          Math.max(p50, other.p50),
          Math.max(p99, other.p99),
          non2xx + other.non2xx,
          socketErrors + other.socketErrors,
          concat(badAnswers, other.badAnswers));
    }

    private static List<String> concat(List<String> a, List<String> b) {
      List<String> both = new ArrayList<>(a);
      both.addAll(b);
      return both;
    }
  }

  /** Parses wrk's output (run with {@code --latency}). */
  static Result parse(String output) {
    Matcher requests = REQUESTS.matcher(output);
    Matcher rate = RATE.matcher(output);
    if (!requests.find() || !rate.find()) {
      throw new IllegalArgumentException("not a wrk report:\n" + output);
    }
    double p50 = Double.NaN;
    double p99 = Double.NaN;
    Matcher percentile = PERCENTILE.matcher(output);
    while (percentile.find()) {
      double millis = millis(percentile.group(2), percentile.group(3));
      switch (percentile.group(1)) {
        case "50" -> p50 = millis;
        case "99" -> p99 = millis;
        default -> {}
      }
    }
    if (Double.isNaN(p50) || Double.isNaN(p99)) {
      throw new IllegalArgumentException("no latency distribution (run wrk with --latency):\n" + output);
    }
    long non2xx = 0;
    Matcher bad = NON_2XX.matcher(output);
    if (bad.find()) {
      non2xx = Long.parseLong(bad.group(1));
    }
    long socketErrors = 0;
    Matcher errors = SOCKET_ERRORS.matcher(output);
    if (errors.find()) {
      for (int i = 1; i <= 4; i++) {
        socketErrors += Long.parseLong(errors.group(i));
      }
    }
    List<String> badAnswers = new ArrayList<>();
    Matcher answer = BAD_ANSWER.matcher(output);
    while (answer.find()) {
      badAnswers.add(answer.group(0).strip());
    }
    return new Result(
        Long.parseLong(requests.group(1)),
        millis(requests.group(2), requests.group(3)) / 1000,
        Double.parseDouble(rate.group(1)),
        p50,
        p99,
        non2xx,
        socketErrors,
        badAnswers);
  }

  static double millis(String value, String unit) {
    double number = Double.parseDouble(value);
    return switch (unit.toLowerCase(Locale.ROOT)) {
      case "us" -> number / 1000;
      case "ms" -> number;
      case "s" -> number * 1000;
      case "m" -> number * 60_000;
      default -> throw new IllegalArgumentException("unit " + unit);
    };
  }

  /**
   * Starts wrk against {@code url}; {@link Running#await} returns its report. With {@code
   * statusScript} (see {@link #statusScript}), failed answers are described.
   */
  static Running start(String url, int connections, Duration duration, @Nullable Path statusScript)
      throws IOException {
    int threads = Math.min(2, connections);
    List<String> command =
        new ArrayList<>(
            List.of(
                "wrk",
                "-t" + threads,
                "-c" + connections,
                "-d" + duration.toSeconds() + "s",
                "--timeout",
                "5s",
                "--latency"));
    if (statusScript != null) {
      command.add("-s");
      command.add(statusScript.toString());
    }
    command.add(url);
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).start();
    return new Running(process, duration);
  }

  /** Writes the status-counting Lua script into {@code dir}. */
  static Path statusScript(Path dir) throws IOException {
    Path script = dir.resolve("statuses.lua");
    try (InputStream in = Wrk.class.getResourceAsStream("statuses.lua")) {
      if (in == null) {
        throw new IOException("statuses.lua missing from the jar");
      }
      Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
    }
    return script;
  }

  /** A wrk process. */
  static final class Running {
    private final Process process;
    private final Duration duration;

    Running(Process process, Duration duration) {
      this.process = process;
      this.duration = duration;
    }

    Result await() throws IOException, InterruptedException {
      byte[] out = process.getInputStream().readAllBytes();
      if (!process.waitFor(duration.toSeconds() + 30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException("wrk did not end");
      }
      String text = new String(out, StandardCharsets.UTF_8);
      if (process.exitValue() != 0) {
        throw new IOException("wrk failed (" + process.exitValue() + "): " + text.strip());
      }
      return parse(text);
    }
  }
}
