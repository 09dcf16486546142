package dev.invertingproxy.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A one-paragraph description of the machine the benchmark ran on, from /proc. */
final class Machine {
  private Machine() {}

  static String describe() {
    String cpu = firstValue(Path.of("/proc/cpuinfo"), "model name");
    String memory = firstValue(Path.of("/proc/meminfo"), "MemTotal");
    String kernel = read(Path.of("/proc/sys/kernel/osrelease"));
    return "CPU: "
        + cpu
        + ", "
        + Runtime.getRuntime().availableProcessors()
        + " cores\n"
        + "Memory: "
        + memory
        + "\n"
        + "Linux "
        + kernel
        + "; Java "
        + System.getProperty("java.runtime.version")
        + " ("
        + System.getProperty("java.vm.name")
        + ")";
  }

  private static String firstValue(Path file, String key) {
    try {
      for (String line : Files.readAllLines(file)) {
        if (line.startsWith(key)) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return "unknown";
  }

  private static String read(Path file) {
    try {
      return Files.readString(file).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }
}
