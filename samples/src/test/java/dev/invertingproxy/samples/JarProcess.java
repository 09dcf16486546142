package dev.invertingproxy.samples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code java -jar target/inverting-proxy.jar ...} as a separate process, with the running JVM's
 * {@code java}: its stdout read line by line (bounded waits), stderr collected for messages.
 * Closing sends SIGTERM, then kills it if it does not stop within a bound.
 */
final class JarProcess implements AutoCloseable {
  static final Path JAR =
      Path.of(System.getProperty("samples.jar", "target/inverting-proxy.jar")).toAbsolutePath();
  private static final String EOF = "\u0000EOF";
  /** Environment variables whose options a JVM picks up, saying so on stderr. */
  private static final List<String> JVM_OPTION_VARIABLES =
      List.of("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS");

  private final String name;
  private final Process process;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final StringBuffer out = new StringBuffer();
  private final StringBuffer err = new StringBuffer();
  private final Thread outReader;
  private final Thread errReader;
  private boolean eof;

  private JarProcess(String name, Process process) {
    this.name = name;
    this.process = process;
    this.outReader = pump(process.getInputStream(), out, true);
    this.errReader = pump(process.getErrorStream(), err, false);
  }

  static JarProcess start(String... args) throws IOException {
    return start(List.of(), Map.of(), args);
  }

  /** Like {@link #start(String...)} with {@code environment} added to the child's. */
  static JarProcess startWithEnvironment(Map<String, String> environment, String... args)
      throws IOException {
    return start(List.of(), environment, args);
  }

  /**
   * Like {@link #start(String...)} in a network namespace of its own with only a loopback
   * interface (Linux, as root: {@code unshare --net}): a server there may listen on all interfaces
   * and still be unreachable from anywhere else, this JVM included.
   */
  static JarProcess startIsolated(String... args) throws IOException {
    return start(
        List.of("unshare", "--net", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"),
        Map.of(),
        args);
  }

  /** Whether {@link #startIsolated} works here (Linux, root, {@code unshare} and {@code ip}). */
  static boolean canIsolate() throws InterruptedException {
    try {
      Process probe =
          new ProcessBuilder("unshare", "--net", "sh", "-c", "ip link set lo up")
              .redirectErrorStream(true)
              .start();
      probe.getInputStream().readAllBytes();
      return probe.waitFor(10, TimeUnit.SECONDS) && probe.exitValue() == 0;
    } catch (IOException noUnshare) {
      return false;
    }
  }

  /**
   * Runs {@code command} with {@code bash -c} in {@code directory}, with {@code environment} added
   * and this JVM's {@code java} first on the {@code PATH} (a README's command, as a reader types
   * it). A single command is {@code exec}ed, so that stopping the process stops the command itself.
   */
  static JarProcess shell(String command, Map<String, String> environment, Path directory)
      throws IOException {
    ProcessBuilder builder = new ProcessBuilder("bash", "-c", command).directory(directory.toFile());
    builder.environment().remove("INVERTING_PROXY_AGENT_TOKEN");
    builder.environment().putAll(environment);
    builder
        .environment()
        .put(
            "PATH",
            Path.of(System.getProperty("java.home"), "bin")
                + java.io.File.pathSeparator
                + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
    builder.environment().put("JDK_JAVA_OPTIONS", "-Xmx128m -XX:TieredStopAtLevel=1");
    return new JarProcess(command, builder.start());
  }

  private static JarProcess start(
      List<String> prefix, Map<String, String> environment, String... args) throws IOException {
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException(JAR + " is missing; run 'mvn package' (the ITs need the jar)");
    }
    List<String> command = new ArrayList<>(prefix);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx128m");
    command.add("-XX:TieredStopAtLevel=1"); // starts faster; these processes live seconds
    command.add("-jar");
    command.add(JAR.toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().remove("INVERTING_PROXY_AGENT_TOKEN");
    // The JVM announces these on stderr ("Picked up JAVA_TOOL_OPTIONS: ..."), and tests compare
    // stderr; the options the child needs are on its command line.
    for (String variable : JVM_OPTION_VARIABLES) {
      builder.environment().remove(variable);
    }
    builder.environment().putAll(environment);
    return new JarProcess(String.join(" ", args), builder.start());
  }

  private Thread pump(InputStream stream, StringBuffer copy, boolean queueLines) {
    Thread thread =
        new Thread(
            () -> {
              try (BufferedReader reader =
                  new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null; ) {
                  copy.append(line).append('\n');
                  if (queueLines) {
                    lines.add(line);
                  }
                }
              } catch (IOException closed) {
                // the process ended
              } finally {
                if (queueLines) {
                  lines.add(EOF);
                }
              }
            },
            "jar-" + (queueLines ? "out" : "err"));
    thread.setDaemon(true);
    thread.start();
    return thread;
  }

  /**
   * Waits for the next stdout line matching {@code regex} (skipping others) and returns its
   * match; fails if the process ends or the time is up first.
   */
  Matcher awaitLine(String regex, Duration timeout) throws InterruptedException {
    Pattern pattern = Pattern.compile(regex);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!eof) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        break;
      }
      String line = lines.poll(left, TimeUnit.NANOSECONDS);
      if (line == null) {
        break;
      }
      if (line.equals(EOF)) {
        eof = true;
        break;
      }
      Matcher matcher = pattern.matcher(line);
      if (matcher.matches()) {
        return matcher;
      }
    }
    throw new AssertionError(
        "no stdout line matching /" + regex + "/ within " + timeout.toSeconds() + " s"
            + (eof ? " (the process ended)" : "") + "\n" + transcript());
  }

  /** Waits for the process to end by itself and returns its exit code. */
  int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(
          "the process did not end within " + timeout.toSeconds() + " s\n" + transcript());
    }
    drained();
    return process.exitValue();
  }

  /**
   * Waits until stderr contains {@code text}; fails if the process ends or the time is up first.
   */
  void awaitStderr(String text, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (err.indexOf(text) < 0) {
      if (!process.isAlive()) {
        drained();
        if (err.indexOf(text) >= 0) {
          return;
        }
        throw new AssertionError(
            "the process ended without '" + text + "' on stderr\n" + transcript());
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(
            "no '" + text + "' on stderr within " + timeout.toSeconds() + " s\n" + transcript());
      }
      Thread.sleep(20);
    }
  }

  /** Sends SIGTERM and returns at once (see {@link #stop}). */
  void terminate() {
    process.toHandle().destroy();
  }

  /**
   * Sends SIGTERM and returns the exit code once it has stopped (bounded). Through the process's
   * handle: {@link Process#destroy()} would also close our ends of its stdout and stderr, and what
   * it prints while stopping would be lost.
   */
  int stop(Duration timeout) throws InterruptedException {
    process.toHandle().destroy();
    return awaitExit(timeout);
  }

  /**
   * Sends SIGINT (what Ctrl-C sends) with {@code kill -INT} and returns the exit code once it has
   * stopped (bounded).
   */
  int interrupt(Duration timeout) throws IOException, InterruptedException {
    Process kill =
        new ProcessBuilder("kill", "-INT", Long.toString(process.pid()))
            .redirectErrorStream(true)
            .start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new AssertionError("kill -INT " + process.pid() + " failed\n" + transcript());
    }
    return awaitExit(timeout);
  }

  /**
   * Whether this JVM ignores SIGINT (a job started in the background by a non-interactive shell
   * does): its children then inherit that, and SIGINT cannot reach their handlers. Linux only;
   * false elsewhere.
   */
  static boolean sigintIgnoredHere() throws IOException {
    Path status = Path.of("/proc/self/status");
    if (!Files.isReadable(status)) {
      return false;
    }
    for (String line : Files.readAllLines(status)) {
      if (line.startsWith("SigIgn:")) {
        return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << 1)) != 0; // SIGINT = 2
      }
    }
    return false;
  }

  /** Kills the process at once (SIGKILL: no shutdown hook, nothing cleaned up), like a crash. */
  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }

  String stdout() throws InterruptedException {
    drained();
    return out.toString();
  }

  String stderr() throws InterruptedException {
    drained();
    return err.toString();
  }

  String transcript() {
    return "--- " + name + " stdout:\n" + out + "--- stderr:\n" + err + "---";
  }

  private void drained() throws InterruptedException {
    if (!process.isAlive()) {
      outReader.join(5_000);
      errReader.join(5_000);
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
