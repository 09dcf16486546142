package dev.invertingproxy.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A process the benchmark started (backend, proxy, agent, Redis, a driver), with its output in a
 * log file, and what Linux tells about it: CPU time, resident memory, threads.
 */
final class Proc implements AutoCloseable {
  private static final List<Proc> ALL = new ArrayList<>();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(Proc::killAll, "bench-cleanup"));
  }

  final String name;
  final Process process;
  final Path log;

  private Proc(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  static Proc start(String name, Path logDir, List<String> command) throws IOException {
    Files.createDirectories(logDir);
    Path log = logDir.resolve(name + ".log");
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    Proc proc = new Proc(name, process, log);
    synchronized (ALL) {
      ALL.add(proc);
    }
    return proc;
  }

  /** Starts {@code java} (the one running this program) with the given arguments. */
  static Proc java(String name, Path logDir, List<String> args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(args);
    return start(name, logDir, command);
  }

  /** Waits until a TCP connection to the port succeeds. */
  Proc awaitPort(int port, Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (!process.isAlive()) {
        throw new IOException(name + " exited (" + process.exitValue() + "): " + tail());
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return this;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          throw new IOException(name + " not listening on " + port + " after " + timeout + ": " + tail());
        }
        Thread.sleep(50);
      }
    }
  }

  /** Waits until the log contains {@code text}. */
  Proc awaitLog(String text, Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!Files.readString(log, StandardCharsets.UTF_8).contains(text)) {
      if (!process.isAlive()) {
        throw new IOException(name + " exited (" + process.exitValue() + "): " + tail());
      }
      if (System.nanoTime() > deadline) {
        throw new IOException(name + " did not print '" + text + "' within " + timeout + ": " + tail());
      }
      Thread.sleep(50);
    }
    return this;
  }

  long pid() {
    return process.pid();
  }

  /** CPU time (user + system) used so far, from /proc. */
  Duration cpu() {
    Optional<Duration> cpu = process.toHandle().info().totalCpuDuration();
    return cpu.orElse(Duration.ZERO);
  }

  /** A field of /proc/PID/status in KiB or as a count (VmRSS, VmHWM, Threads). */
  long status(String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
      }
    }
    throw new IOException("no " + field + " in /proc/" + pid() + "/status");
  }

  /** Resets the peak resident set size (VmHWM) to the current one. */
  void resetPeakRss() throws IOException {
    Files.writeString(Path.of("/proc", Long.toString(pid()), "clear_refs"), "5");
  }

  /** The JVM's heap in use after a full collection, in bytes (via jcmd). */
  long heapUsedAfterGc() throws IOException, InterruptedException {
    jcmd("GC.run");
    String info = jcmd("GC.heap_info");
    // "garbage-first heap   total 262144K, used 12345K [..."
    java.util.regex.Matcher used =
        java.util.regex.Pattern.compile("used (\\d+)K").matcher(info);
    if (!used.find()) {
      throw new IOException("jcmd GC.heap_info: " + info);
    }
    return Long.parseLong(used.group(1)) * 1024;
  }

  String jcmd(String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process process =
        new ProcessBuilder(jcmd.toString(), Long.toString(pid()), command).redirectErrorStream(true).start();
    byte[] out = process.getInputStream().readAllBytes();
    process.waitFor(30, TimeUnit.SECONDS);
    return new String(out, StandardCharsets.UTF_8);
  }

  String tail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    synchronized (ALL) {
      ALL.remove(this);
    }
  }

  private static void killAll() {
    List<Proc> left;
    synchronized (ALL) {
      left = new ArrayList<>(ALL);
    }
    left.forEach(proc -> proc.process.destroyForcibly());
  }
}
