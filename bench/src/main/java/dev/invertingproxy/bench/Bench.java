package dev.invertingproxy.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The whole benchmark on one machine: backend, proxy, agent and load each in their own process,
 * everything on 127.0.0.1, every run bounded in time. Writes {@code RESULTS.md} and {@code
 * throughput.svg} to the output folder. Run it through {@code bench/run}, which installs wrk, nginx
 * and redis-server if they are missing and builds the jars.
 *
 * <p>Usage: {@code Bench --jar samples/target/inverting-proxy.jar --out bench/results [--runs 3]
 * [--seconds 10] [--warmup 40] [--idle-agents 10000] [--large-mib 1024] [--skip memory,redis,idle,large]}
 */
public final class Bench {
  static final int[] CONCURRENCY = {1, 16, 64};
  static final String TOKEN = "bench-token";
  static final byte[] SMALL_BODY = "x".repeat(100).getBytes(StandardCharsets.US_ASCII);

  private final Path jar;
  private final Path out;
  private final Path work;
  private final int runs;
  private final Duration seconds;
  private final Duration warmup;
  private final int idleAgents;
  private final long largeBytes;
  private final Set<String> skip;
  private final Report report = new Report();
  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  private Bench(Map<String, String> options) throws IOException {
    this.jar = Path.of(options.getOrDefault("jar", "samples/target/inverting-proxy.jar")).toAbsolutePath();
    this.out = Path.of(options.getOrDefault("out", "bench/results")).toAbsolutePath();
    this.work = Files.createTempDirectory("inverting-proxy-bench");
    this.runs = Integer.parseInt(options.getOrDefault("runs", "3"));
    this.seconds = Duration.ofSeconds(Long.parseLong(options.getOrDefault("seconds", "10")));
    this.warmup = Duration.ofSeconds(Long.parseLong(options.getOrDefault("warmup", "40")));
    this.idleAgents = Integer.parseInt(options.getOrDefault("idle-agents", "10000"));
    this.largeBytes = Long.parseLong(options.getOrDefault("large-mib", "1024")) << 20;
    this.skip = Set.of(options.getOrDefault("skip", "").split(","));
    if (!Files.isRegularFile(jar)) {
      throw new IOException("no " + jar + ": build it first (mvn -B -q install -DskipTests)");
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --name value, got " + args[i]);
      }
      options.put(args[i].substring(2), args[i + 1]);
    }
    new Bench(options).run();
  }

  private void run() throws Exception {
    Instant start = Instant.now();
    log("machine: " + Machine.describe().replace('\n', ' '));
    log("logs in " + work);
    try (Proc nginx = startNginx()) {
      int nginxPort = port(nginx);
      String backend = "127.0.0.1:" + nginxPort;
      checkSmall("http://" + backend + "/small");
      throughput("direct", List.of(), List.of("http://" + backend + "/small"));
      if (!skip.contains("memory")) {
        try (Node proxy = proxy("proxy", "memory:");
            Proc agent = agent("agent", proxy.port, backend)) {
          String url = "http://127.0.0.1:" + proxy.port + "/small";
          awaitServed(url);
          throughput("proxy, memory", List.of(proxy.proc, agent), List.of(url));
        }
      }
      if (!skip.contains("redis")) {
        redis(backend);
      }
    }
    if (!skip.contains("large")) {
      large();
    }
    if (!skip.contains("idle")) {
      idle();
    }
    report.note(
        "Whole run: "
            + Duration.between(start, Instant.now()).toSeconds()
            + " s; "
            + runs
            + " runs of "
            + seconds.toSeconds()
            + " s per cell after a "
            + warmup.toSeconds()
            + " s warm-up; medians.");
    Files.createDirectories(out);
    Files.writeString(out.resolve("RESULTS.md"), report.markdown(Machine.describe()));
    Files.writeString(out.resolve("throughput.svg"), report.svg());
    log("wrote " + out.resolve("RESULTS.md") + " and " + out.resolve("throughput.svg"));
  }

  // ------------------------------------------------------------------------------- throughput

  /**
   * Warms up, then measures each concurrency {@code runs} times. With several URLs (proxy nodes),
   * the connections are split over them, one wrk per URL, and the results add up.
   */
  private void throughput(String scenario, List<Proc> measured, List<String> urls) throws Exception {
    // The JVMs need a long warm-up: Jetty, OkHttp and our code are compiled by C2 for tens of
    // seconds, and compiling costs CPU that would be counted per request.
    Duration warm = measured.isEmpty() ? Duration.ofSeconds(5) : warmup;
    log(scenario + ": warm-up " + warm.toSeconds() + " s");
    Wrk.Result warmed = load(urls, 64, warm);
    if (!warmed.ok()) {
      log(scenario + " warm-up had failures: " + warmed.failure());
    }
    for (int c : CONCURRENCY) {
      List<Wrk.Result> results = new ArrayList<>();
      List<Double> cpuPerRequest = new ArrayList<>();
      String failure = null;
      for (int run = 0; run < runs; run++) {
        for (String url : urls) {
          checkSmall(url);
        }
        long cpuBefore = cpuNanos(measured);
        Wrk.Result result = load(urls, c, seconds);
        long cpu = cpuNanos(measured) - cpuBefore;
        if (!result.ok()) {
          failure = result.failure();
          log(scenario + " c=" + c + " run " + (run + 1) + " FAILED: " + failure);
          break;
        }
        results.add(result);
        cpuPerRequest.add(cpu / 1e9 / result.requests());
        log(
            String.format(
                "%s c=%d run %d: %.0f req/s, p50 %.3f ms, p99 %.3f ms, cpu %.1f us/req",
                scenario, c, run + 1, result.rps(), result.p50(), result.p99(), cpu / 1e3 / result.requests()));
      }
      report.throughput(scenario, c, results, measured.isEmpty() ? List.of() : cpuPerRequest, failure);
    }
  }

  /**
   * Runs wrk with the status script on every run, direct ones included, so all are measured
   * alike (its cost did not show: nginx direct at concurrency 64 gave 73-79k req/s with and
   * without it).
   */
  private Wrk.Result load(List<String> urls, int connections, Duration duration) throws Exception {
    List<Wrk.Running> running = new ArrayList<>();
    int share = Math.max(1, connections / urls.size());
    Path script = Wrk.statusScript(work);
    for (int i = 0; i < urls.size() && (i == 0 || connections > 1); i++) {
      running.add(Wrk.start(urls.get(i), share, duration, script));
    }
    Wrk.Result total = null;
    for (Wrk.Running wrk : running) {
      Wrk.Result result = wrk.await();
      total = total == null ? result : total.plus(result);
    }
    return total;
  }

  private static long cpuNanos(List<Proc> procs) {
    return procs.stream().mapToLong(proc -> proc.cpu().toNanos()).sum();
  }

  /** One GET must answer 200 with exactly the 100-byte page, or the run is not worth measuring. */
  private void checkSmall(String url) throws IOException, InterruptedException {
    HttpResponse<byte[]> response =
        http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    if (response.statusCode() != 200 || !Arrays.equals(response.body(), SMALL_BODY)) {
      throw new IOException(url + " answered " + response.statusCode() + " with " + response.body().length + " bytes");
    }
  }

  private void awaitServed(String url) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        checkSmall(url);
        return;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          throw notYet;
        }
        Thread.sleep(200);
      }
    }
  }

  // ------------------------------------------------------------------------------- Redis

  private void redis(String backend) throws Exception {
    int redisPort = freePort();
    try (Proc redis =
            Proc.start(
                    "redis",
                    work,
                    List.of(
                        "redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", work.toString()))
                .awaitPort(redisPort, Duration.ofSeconds(10))) {
      String storage = "redis://127.0.0.1:" + redisPort;
      try (Node a = proxy("node-a", storage);
          Node b = proxy("node-b", storage);
          Node c = proxy("node-c", storage);
          Proc agent = agent("agent-redis", c.port, backend)) {
        String urlA = "http://127.0.0.1:" + a.port + "/small";
        String urlB = "http://127.0.0.1:" + b.port + "/small";
        awaitServed(urlA);
        awaitServed(urlB);
        throughput(
            "3 proxy nodes, Redis", List.of(a.proc, b.proc, c.proc, agent, redis), List.of(urlA, urlB));
      }
      // Redis memory per parked request: no agent, parked clients on one node.
      try (Node a = proxy("node-parked", storage)) {
        long before = redisUsedMemory(redisPort);
        int parked = 1000;
        ExecutorService executor = Executors.newFixedThreadPool(2);
        HttpClient clients = HttpClient.newBuilder().executor(executor).build();
        List<CompletableFuture<HttpResponse<Void>>> waiting = new ArrayList<>();
        for (int i = 0; i < parked; i++) {
          waiting.add(
              clients.sendAsync(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.port + "/parked/" + i))
                      .timeout(Duration.ofSeconds(30))
                      .build(),
                  HttpResponse.BodyHandlers.discarding()));
        }
        Thread.sleep(3000);
        long after = redisUsedMemory(redisPort);
        report.redisMemory(parked, before, after);
        log("Redis: " + (after - before) / parked + " bytes per parked request");
        executor.shutdownNow();
      }
    }
  }

  private static long redisUsedMemory(int port) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(5000);
      OutputStream out = socket.getOutputStream();
      out.write("INFO memory\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder text = new StringBuilder();
      byte[] buffer = new byte[8192];
      int n;
      while (!text.toString().contains("used_memory:") || !text.toString().endsWith("\r\n\r\n")) {
        n = in.read(buffer);
        if (n < 0) {
          break;
        }
        text.append(new String(buffer, 0, n, StandardCharsets.US_ASCII));
        if (text.indexOf("used_memory:") >= 0 && text.indexOf("\r\n", text.indexOf("used_memory:")) > 0) {
          break;
        }
      }
      int at = text.indexOf("used_memory:");
      int end = text.indexOf("\r\n", at);
      return Long.parseLong(text.substring(at + "used_memory:".length(), end).trim());
    }
  }

  // ------------------------------------------------------------------------------- large bodies

  private void large() throws Exception {
    int backendPort = freePort();
    String heap = "-Xmx128m";
    try (Proc backend =
            Proc.java("large-backend", work, List.of("-cp", benchJar(), BenchBackend.class.getName(), Integer.toString(backendPort)))
                .awaitPort(backendPort, Duration.ofSeconds(20));
        Node proxy = proxy("large-proxy", "memory:", heap);
        Proc agent = agent("large-agent", proxy.port, "127.0.0.1:" + backendPort, heap)) {
      String direct = "http://127.0.0.1:" + backendPort;
      String via = "http://127.0.0.1:" + proxy.port;
      // A small transfer first, so the agent is connected and the code warm.
      for (int i = 0; i < 3; i++) {
        download(via, 1 << 20);
        upload(via, 1 << 20);
      }
      for (String direction : List.of("download", "upload")) {
        List<Double> directTimes = new ArrayList<>();
        List<Double> proxyTimes = new ArrayList<>();
        long peakProxy = 0;
        long peakAgent = 0;
        for (int run = 0; run < Math.min(runs, 3); run++) {
          directTimes.add(timed(() -> transfer(direction, direct)));
          proxy.proc.resetPeakRss();
          agent.resetPeakRss();
          proxyTimes.add(timed(() -> transfer(direction, via)));
          peakProxy = Math.max(peakProxy, proxy.proc.status("VmHWM"));
          peakAgent = Math.max(peakAgent, agent.status("VmHWM"));
          log(
              String.format(
                  "%d MiB %s: direct %.2f s, via proxy %.2f s", largeBytes >> 20, direction,
                  directTimes.get(run), proxyTimes.get(run)));
        }
        report.large(direction, largeBytes, directTimes, proxyTimes, peakProxy, peakAgent, heap);
      }
    }
  }

  private double timed(Callable body) throws Exception {
    long start = System.nanoTime();
    body.call();
    return (System.nanoTime() - start) / 1e9;
  }

  @FunctionalInterface
  private interface Callable {
    void call() throws Exception;
  }

  private void transfer(String direction, String base) throws Exception {
    if (direction.equals("download")) {
      download(base, largeBytes);
    } else {
      upload(base, largeBytes);
    }
  }

  private void download(String base, long bytes) throws Exception {
    HttpResponse<InputStream> response =
        http.send(HttpRequest.newBuilder(URI.create(base + "/bytes/" + bytes)).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    long count = 0;
    try (InputStream in = response.body()) {
      byte[] buffer = new byte[64 * 1024];
      int n;
      while ((n = in.read(buffer)) != -1) {
        count += n;
      }
    }
    if (response.statusCode() != 200 || count != bytes) {
      throw new IOException("download of " + bytes + " bytes: " + response.statusCode() + ", got " + count);
    }
  }

  private void upload(String base, long bytes) throws Exception {
    Supplier<InputStream> body = () -> new ZeroStream(bytes);
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/sink"))
                .POST(HttpRequest.BodyPublishers.fromPublisher(
                    HttpRequest.BodyPublishers.ofInputStream(body), bytes))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200 || !response.body().equals(Long.toString(bytes))) {
      throw new IOException("upload of " + bytes + " bytes: " + response.statusCode() + " " + response.body());
    }
  }

  /** {@code length} zero bytes, without holding them. */
  private static final class ZeroStream extends InputStream {
    private long left;

    ZeroStream(long length) {
      this.left = length;
    }

    @Override
    public int read() {
      if (left == 0) {
        return -1;
      }
      left--;
      return 0;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (left == 0) {
        return -1;
      }
      int n = (int) Math.min(len, left);
      Arrays.fill(b, off, off + n, (byte) 0);
      left -= n;
      return n;
    }
  }

  // ------------------------------------------------------------------------------- idle agents

  private void idle() throws Exception {
    try (Node proxy = proxy("idle-proxy", "memory:")) {
      long heapBefore = proxy.proc.heapUsedAfterGc();
      long threadsBefore = proxy.proc.status("Threads");
      try (Proc driver =
          Proc.java(
              "idle-agents",
              work,
              List.of("-Xmx1g", "-cp", benchJar(), IdlePolls.class.getName(),
                  "http://127.0.0.1:" + proxy.port + "/", Integer.toString(idleAgents), TOKEN))) {
        driver.awaitLog("all " + idleAgents + " polls open", Duration.ofSeconds(120));
        Thread.sleep(3000); // let the last polls park
        long heap = proxy.proc.heapUsedAfterGc();
        long threads = proxy.proc.status("Threads");
        long rss = proxy.proc.status("VmRSS");
        String errors = driver.tail();
        report.idle(idleAgents, heapBefore, heap, threadsBefore, threads, rss);
        log(String.format(
            "%d idle agents: heap %d MiB (before %d MiB), %d threads (before %d), RSS %d MiB",
            idleAgents, heap >> 20, heapBefore >> 20, threads, threadsBefore, rss >> 10));
        if (errors.contains("ERROR")) {
          log("idle driver reported errors:\n" + errors);
        }
      }
    }
  }

  // ------------------------------------------------------------------------------- processes

  /** A proxy process and its port. */
  private record Node(Proc proc, int port) implements AutoCloseable {
    @Override
    public void close() {
      proc.close();
    }
  }

  private Node proxy(String name, String storage) throws Exception {
    return proxy(name, storage, "-Xmx512m");
  }

  private Node proxy(String name, String storage, String heap) throws Exception {
    int port = freePort();
    Proc proc =
        Proc.java(
            name,
            work,
            List.of(heap, "-jar", jar.toString(), "proxy", "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--storage", storage, "--agent-token", TOKEN));
    proc.awaitLog("Listening on", Duration.ofSeconds(60));
    return new Node(proc, port);
  }

  private Proc agent(String name, int proxyPort, String backend) throws Exception {
    return agent(name, proxyPort, backend, "-Xmx256m");
  }

  private Proc agent(String name, int proxyPort, String backend, String heap) throws Exception {
    Proc proc =
        Proc.java(
            name,
            work,
            List.of(heap, "-jar", jar.toString(), "agent", "--proxy", "http://127.0.0.1:" + proxyPort + "/",
                "--backend", "default", "--host", backend, "--token", TOKEN));
    proc.awaitLog("Agent connected", Duration.ofSeconds(60));
    return proc;
  }

  private Proc startNginx() throws Exception {
    int port = freePort();
    Path root = work.resolve("www");
    Files.createDirectories(root);
    Files.write(root.resolve("small"), SMALL_BODY);
    // nginx's workers run as an unprivileged user when started by root: let them read the page.
    for (Path path : List.of(work, root)) {
      Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    Files.setPosixFilePermissions(
        root.resolve("small"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    String conf =
        String.join(
            "\n",
            "worker_processes 1;",
            "daemon off;",
            "pid " + work.resolve("nginx.pid") + ";",
            "error_log " + work.resolve("nginx-error.log") + " warn;",
            "events { worker_connections 4096; }",
            "http {",
            "  access_log off;",
            "  keepalive_requests 1000000;",
            "  default_type text/plain;",
            "  server {",
            "    listen 127.0.0.1:" + port + ";",
            "    root " + root + ";",
            "  }",
            "}",
            "");
    Path file = work.resolve("nginx.conf");
    Files.writeString(file, conf);
    Proc nginx =
        Proc.start("nginx", work, List.of(nginxBinary(), "-c", file.toString(), "-p", work.toString()));
    nginx.awaitPort(port, Duration.ofSeconds(10));
    ports.put(nginx, port);
    return nginx;
  }

  private final Map<Proc, Integer> ports = new LinkedHashMap<>();

  private int port(Proc proc) {
    return ports.get(proc);
  }

  private static String nginxBinary() {
    for (String candidate : List.of("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx")) {
      if (Files.isExecutable(Path.of(candidate))) {
        return candidate;
      }
    }
    return "nginx";
  }

  private static String benchJar() throws IOException {
    try {
      return Path.of(Bench.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    } catch (java.net.URISyntaxException e) {
      throw new IOException(e);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  static void log(String line) {
    System.out.println(Instant.now().toString().substring(11, 19) + " " + line);
  }
}
