package dev.invertingproxy.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} process on 127.0.0.1 for tests, never a mock. The binary is {@code
 * redis-server} from the {@code PATH} if there is one, else the Linux x86-64 binary shipped in the
 * {@code com.github.codemonstur:embedded-redis} test artifact (put it on the test class path). No
 * persistence: a restart starts empty, like a Redis that lost its data.
 *
 * <p>This class is not thread-safe.
 */
public final class RedisProcess implements AutoCloseable {
  private static final String SHIPPED = "redis-server-6.2.6-v5-linux-amd64";

  private final Path binary;
  private final Path directory;
  private final int port;
  private Process process;

  private RedisProcess(Path binary, Path directory, int port) {
    this.binary = binary;
    this.directory = directory;
    this.port = port;
  }

  /** Starts a server on a free loopback port and waits until it answers PING. */
  public static RedisProcess start() throws IOException {
    Path directory = Files.createTempDirectory("redis-test");
    RedisProcess redis = new RedisProcess(findBinary(directory), directory, freePort());
    redis.startProcess();
    return redis;
  }

  /**
   * Returns a {@code redis-server} binary to run: the one on the {@code PATH}, else the shipped one,
   * copied into a new temporary directory.
   */
  public static Path binary() throws IOException {
    return findBinary(Files.createTempDirectory("redis-binary"));
  }

  /** Returns the port. */
  public int port() {
    return port;
  }

  /** Returns {@code redis://127.0.0.1:PORT}. */
  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /** Kills the server (like a crash); {@link #restart()} brings it back on the same port, empty. */
  public void stop() {
    if (process != null) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process = null;
    }
  }

  /** Starts the server again on the same port. */
  public void restart() throws IOException {
    stop();
    startProcess();
  }

  /** Sends one command (inline syntax) and returns the first line of the answer. */
  public String command(String inline) throws IOException {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(5000);
      OutputStream out = socket.getOutputStream();
      out.write((inline + "\r\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder line = new StringBuilder();
      int c;
      while ((c = in.read()) >= 0 && c != '\n') {
        if (c != '\r') {
          line.append((char) c);
        }
      }
      return line.toString();
    }
  }

  /** Returns the server's {@code used_memory} in bytes. */
  public long usedMemory() throws IOException {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(5000);
      socket.getOutputStream().write("INFO memory\r\n".getBytes(StandardCharsets.UTF_8));
      byte[] buffer = new byte[8192];
      int n = socket.getInputStream().read(buffer);
      String text = new String(buffer, 0, Math.max(0, n), StandardCharsets.UTF_8);
      for (String line : text.split("\r\n")) {
        if (line.startsWith("used_memory:")) {
          return Long.parseLong(line.substring("used_memory:".length()).trim());
        }
      }
      throw new IOException("no used_memory in INFO: " + text);
    }
  }

  @Override
  public void close() {
    stop();
  }

  private void startProcess() throws IOException {
    List<String> command = new ArrayList<>();
    command.add(binary.toString());
    command.addAll(
        List.of(
            "--port", Integer.toString(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", directory.toString()));
    process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(directory.resolve("redis.log").toFile())
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException(
            "redis-server exited: " + Files.readString(directory.resolve("redis.log")));
      }
      try {
        if ("+PONG".equals(command("PING"))) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while redis-server started", e);
      }
    }
    stop();
    throw new IOException("redis-server did not answer PING within 15 s on port " + port);
  }

  private static Path findBinary(Path directory) throws IOException {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(java.io.File.pathSeparator)) {
        Path candidate = Path.of(dir, "redis-server");
        if (Files.isExecutable(candidate)) {
          return candidate;
        }
      }
    }
    try (InputStream shipped = RedisProcess.class.getClassLoader().getResourceAsStream(SHIPPED)) {
      if (shipped == null) {
        throw new IOException(
            "no redis-server on the PATH and no "
                + SHIPPED
                + " on the class path (add com.github.codemonstur:embedded-redis as a test dependency)");
      }
      Path binary = directory.resolve("redis-server");
      Files.copy(shipped, binary, StandardCopyOption.REPLACE_EXISTING);
      if (!binary.toFile().setExecutable(true)) {
        throw new IOException("cannot make " + binary + " executable");
      }
      return binary;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      return socket.getLocalPort();
    }
  }
}
