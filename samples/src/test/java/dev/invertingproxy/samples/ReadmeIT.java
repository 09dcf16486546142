package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import dev.invertingproxy.testkit.RedisProcess;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command block of the README ({@code ```sh}) runs as written. A block is a list of
 * commands, one per line (a trailing {@code \} continues it); each command runs in {@code bash} in
 * a scratch directory, as a reader would type it, with these substitutions only:
 *
 * <ul>
 *   <li>placeholders become local values: {@code proxy.example} (and the {@code https://} in front
 *       of it: TLS is terminated in front of the proxy program) and the ports of the examples
 *       become free loopback ports, {@code localhost:3000} a backend this test runs, the issuer's
 *       JWKS URL one this test serves, {@code /run/secrets/agent-id-token} an ID token this test
 *       signs;
 *   <li>the jar's path is made absolute, and {@code redis-server} is the one the other tests use
 *       (from the {@code PATH}, else the binary shipped in a test artifact);
 *   <li>{@code curl} fails on an HTTP error ({@code -fsS}), so that a refused call fails the test,
 *       and gives up after 20 s.
 * </ul>
 *
 * An {@code export NAME=$(...)} line (the README makes its secrets so) sets the variables for the
 * commands after it, in the same scenario, as in a reader's terminal. A command that starts a
 * server or an agent ({@code java -jar ... proxy|agent|quickstart}, {@code
 * redis-server}), which a reader leaves running in its own terminal, runs in the background (a
 * trailing {@code &} is dropped) until it prints that it is ready; every other command must end
 * with exit code 0 within a minute. Each scenario then checks what the README says should happen:
 * a request through the proxy reaches the backend.
 *
 * <p>Not run, by name: {@code mvn -B verify} (the test command itself, which runs this test),
 * {@code bash bench/run} (eight minutes, installs packages), and the quickstart's build step
 * {@code mvn -B -q install -DskipTests} (the build that runs this test has just built the jar). A
 * new {@code sh} block fails this test until a scenario runs it; a fence in another language than
 * {@code sh}, {@code text}, {@code java} or {@code xml} fails it too.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ReadmeIT {
  private static final Path README = Path.of(System.getProperty("readme", "../README.md"));
  private static final Duration READY = Duration.ofSeconds(60);
  private static final String BACKEND_TEXT = "hello from the README's backend";
  private static final Set<String> NOT_RUN = Set.of("mvn -B verify", "bash bench/run");
  private static final String BUILD_STEP = "mvn -B -q install -DskipTests && ";

  private static List<Block> blocks;

  @TempDir Path scratch;
  private final List<JarProcess> running = new ArrayList<>();
  private final Map<String, String> env = new LinkedHashMap<>();
  private final Map<String, String> substitutions = new LinkedHashMap<>();
  private HttpServer backend;

  /** One fenced block: its language, first line number and text. */
  record Block(String language, int line, String text) {
    String firstLine() {
      return text.lines().findFirst().orElse("");
    }

    /** Whether one of its commands starts with {@code start}. */
    boolean has(String start) {
      return commands().stream().anyMatch(command -> command.startsWith(start));
    }

    /** The commands: lines joined across trailing backslashes, comments kept (bash drops them). */
    List<String> commands() {
      List<String> commands = new ArrayList<>();
      StringBuilder current = new StringBuilder();
      for (String line : text.lines().toList()) {
        if (line.endsWith("\\")) {
          current.append(line, 0, line.length() - 1).append(' ');
          continue;
        }
        current.append(line);
        if (!current.toString().isBlank()) {
          commands.add(current.toString().strip());
        }
        current.setLength(0);
      }
      return commands;
    }
  }

  @BeforeAll
  static void readBlocks() throws IOException {
    blocks = new ArrayList<>();
    List<String> lines = Files.readAllLines(README, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (!line.startsWith("```")) {
        continue;
      }
      String language = line.substring(3).strip();
      StringBuilder text = new StringBuilder();
      int start = i + 1;
      for (i++; i < lines.size() && !lines.get(i).startsWith("```"); i++) {
        text.append(lines.get(i)).append('\n');
      }
      blocks.add(new Block(language, start + 1, text.toString()));
    }
  }

  @BeforeEach
  void backend() throws IOException {
    backend = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    backend.createContext(
        "/",
        exchange -> {
          byte[] body = (BACKEND_TEXT + " " + exchange.getRequestURI()).getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    backend.start();
    substitutions.put("samples/target/inverting-proxy.jar", JarProcess.JAR.toString());
    substitutions.put("localhost:3000", "127.0.0.1:" + backend.getAddress().getPort());
    substitutions.put("127.0.0.1:3000", "127.0.0.1:" + backend.getAddress().getPort());
  }

  @AfterEach
  void stopEverything() throws InterruptedException {
    for (int i = running.size() - 1; i >= 0; i--) {
      running.get(i).close();
    }
    backend.stop(0);
  }

  // ---------------------------------------------------------------- the blocks, by scenario

  /** A line of each command block that names it, and the scenario that runs it. */
  private static final Map<String, String> SCENARIOS =
      Map.of(
          BUILD_STEP + "java -jar samples/target/inverting-proxy.jar quickstart", "quickstart",
          "java -jar samples/target/inverting-proxy.jar proxy --port 8080 ", "standaloneProxyAndAgent",
          "java -jar samples/target/inverting-proxy.jar agent --proxy http://proxy.example:8080/ ",
              "standaloneProxyAndAgent",
          "redis-server ", "severalNodesOnOneRedis",
          "(umask 077; printf 'laptop-agent ", "staticTokensAndRegistration",
          "curl -H \"Authorization: Bearer $ADMIN_TOKEN\" -d '{\"id\":\"laptop\",\"backendUser\":\"laptop-agent\"",
              "staticTokensAndRegistration",
          "java -jar samples/target/inverting-proxy.jar proxy --port 8443 --admin-token ", "oidcTokensAndRegistration",
          "curl -H \"Authorization: Bearer $ADMIN_TOKEN\" -d '{\"id\":\"laptop\",\"backendUser\":\"agent@example.com\"",
              "oidcTokensAndRegistration");

  @Test
  void everyCommandBlockBelongsToAScenario() {
    List<Block> commandBlocks = blocks.stream().filter(b -> b.language().equals("sh")).toList();
    assertThat(commandBlocks).isNotEmpty();
    for (Block block : commandBlocks) {
      if (NOT_RUN.contains(block.firstLine())) {
        assertThat(block.commands()).as("a block not run holds that one command").hasSize(1);
        continue;
      }
      assertThat(SCENARIOS.keySet().stream().filter(key -> block.has(key)).toList())
          .as("the scenario of the README's sh block at line " + block.line() + ":\n" + block.text())
          .hasSize(1);
    }
    // Blocks in another language would escape this check: every block says what it is.
    assertThat(blocks)
        .allSatisfy(
            b ->
                assertThat(b.language())
                    .as("the fence at line " + (b.line() - 1))
                    .isIn("sh", "text", "java", "xml"));
  }

  @Test
  void quickstart() throws Exception {
    Block block = block(BUILD_STEP);
    assertThat(block.commands()).hasSize(1);
    String command = block.firstLine().substring(BUILD_STEP.length()); // port 8080, or a free one
    JarProcess quickstart = JarProcess.shell("exec " + substitute(command), env, scratch);
    running.add(quickstart);
    String url = quickstart.awaitLine("Proxy URL: (http://127\\.0\\.0\\.1:\\d+/)", READY).group(1);
    // The README's sample output, with this run's port.
    String sample = block("Proxy URL: ").text();
    Matcher shown = Pattern.compile("Proxy URL: (\\S+)\\nTry: (curl \\S+)\\n").matcher(sample);
    assertThat(shown.matches()).as(sample).isTrue();
    String tryLine = quickstart.awaitLine("Try: (curl .*)", READY).group(1);
    assertThat(tryLine).isEqualTo(shown.group(2).replace(shown.group(1), url));
    String page = run(tryLine);
    assertThat(page).contains(DemoBackend.MARKER);
  }

  @Test
  void standaloneProxyAndAgent() throws Exception {
    port("--port 8080", "proxy.example:8080");
    runBlock(block("java -jar samples/target/inverting-proxy.jar proxy --port 8080"));
    runBlock(block("java -jar samples/target/inverting-proxy.jar agent --proxy http://proxy.example:8080/"));
    assertThat(run("curl " + substitute("http://proxy.example:8080/") + "hello"))
        .isEqualTo(BACKEND_TEXT + " /hello");
  }

  @Test
  void severalNodesOnOneRedis() throws Exception {
    port("--port 6379", "127.0.0.1:6379");
    port("--port 8081", "127.0.0.1:8081");
    port("--port 8082", "127.0.0.1:8082");
    substitutions.put("redis-server ", RedisProcess.binary() + " ");
    List<String> output = runBlock(block("redis-server --port 6379"));
    assertThat(output).contains(BACKEND_TEXT + " /hello");
  }

  @Test
  void staticTokensAndRegistration() throws Exception {
    port("--port 8443", "proxy.example");
    runBlock(block("(umask 077; printf 'laptop-agent"));
    assertThat(Files.readString(scratch.resolve("agent-tokens")))
        .isEqualTo("laptop-agent " + env.get("AGENT_TOKEN") + "\n");
    runBlock(block("curl -H \"Authorization: Bearer $ADMIN_TOKEN\" -d '{\"id\":\"laptop\",\"backendUser\":\"laptop-agent\""));
    assertThat(run("curl " + substitute("https://proxy.example/") + "served"))
        .isEqualTo(BACKEND_TEXT + " /served");
  }

  @Test
  void oidcTokensAndRegistration() throws Exception {
    port("--port 8443", "proxy.example");
    RSAKey key = new RSAKeyGenerator(2048).keyID("readme-1").generate();
    HttpServer issuer = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    byte[] jwks = new JWKSet(key.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
    issuer.createContext(
        "/.well-known/jwks.json",
        exchange -> {
          exchange.getResponseHeaders().set("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, jwks.length);
          exchange.getResponseBody().write(jwks);
          exchange.close();
        });
    issuer.start();
    try {
      substitutions.put(
          "https://issuer.example/.well-known/jwks.json",
          "http://127.0.0.1:" + issuer.getAddress().getPort() + "/.well-known/jwks.json");
      Path tokenFile = scratch.resolve("agent-id-token");
      Files.writeString(tokenFile, idToken(key));
      substitutions.put("/run/secrets/agent-id-token", tokenFile.toString());
      runBlock(block("java -jar samples/target/inverting-proxy.jar proxy --port 8443 --admin-token"));
      runBlock(block("curl -H \"Authorization: Bearer $ADMIN_TOKEN\" -d '{\"id\":\"laptop\",\"backendUser\":\"agent@example.com\""));
      assertThat(run("curl " + substitute("https://proxy.example/") + "served"))
          .isEqualTo(BACKEND_TEXT + " /served");
    } finally {
      issuer.stop(0);
    }
  }

  // ---------------------------------------------------------------- running

  /** An ID token as an OIDC issuer would sign it for the README's agent. */
  private static String idToken(RSAKey key) throws Exception {
    Instant now = Instant.now();
    JWTClaimsSet claims =
        new JWTClaimsSet.Builder()
            .issuer("https://issuer.example")
            .audience("inverting-proxy")
            .subject("1234567890")
            .claim("email", "agent@example.com")
            .issueTime(Date.from(now))
            .expirationTime(Date.from(now.plusSeconds(3600)))
            .build();
    SignedJWT jwt =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(),
            claims);
    jwt.sign(new RSASSASigner(key));
    return jwt.serialize();
  }

  /** The README's block with a command that starts with {@code start}; exactly one. */
  private static Block block(String start) {
    List<Block> found = blocks.stream().filter(b -> b.has(start)).toList();
    assertThat(found).as("README blocks starting with: " + start).hasSize(1);
    return found.get(0);
  }

  /**
   * Gives each example port of {@code spellings} (such as {@code --port 8080} and {@code
   * proxy.example:8080}) one free loopback port. A bare {@code proxy.example} (an https URL)
   * becomes {@code 127.0.0.1:PORT} over http.
   */
  private void port(String option, String address) throws IOException {
    int free;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      free = socket.getLocalPort();
    }
    substitutions.put(option, option.replaceAll("\\d+$", Integer.toString(free)));
    if (address.equals("proxy.example")) {
      substitutions.put("https://proxy.example/", "http://127.0.0.1:" + free + "/");
    } else if (address.startsWith("proxy.example:")) {
      substitutions.put("http://" + address + "/", "http://127.0.0.1:" + free + "/");
    } else {
      substitutions.put(address, address.replaceAll("\\d+$", Integer.toString(free)));
    }
  }

  private String substitute(String command) {
    String result = command;
    for (Map.Entry<String, String> entry : substitutions.entrySet()) {
      result = result.replace(entry.getKey(), entry.getValue());
    }
    if (result.startsWith("curl ")) {
      result = "curl -fsS --max-time 20 " + result.substring(5);
    }
    return result;
  }

  /** Runs each command of {@code block}; returns the output of those that ran to their end. */
  private List<String> runBlock(Block block) throws Exception {
    List<String> output = new ArrayList<>();
    for (String command : block.commands()) {
      if (command.startsWith("export ")) {
        exportVariables(command);
        continue;
      }
      String ready = readyLine(command);
      if (ready != null) {
        start(command.replaceAll("\\s*&$", ""), ready);
      } else {
        output.add(run(command));
      }
    }
    return output;
  }

  /** Runs an {@code export A=$(...) B=$(...)} line and keeps the variables for what follows. */
  private void exportVariables(String command) throws Exception {
    Matcher names = Pattern.compile("\\b([A-Z_][A-Z0-9_]*)=").matcher(command);
    StringBuilder print = new StringBuilder(command.replaceFirst("\\s+#.*$", ""));
    List<String> exported = new ArrayList<>();
    while (names.find()) {
      exported.add(names.group(1));
      print.append("; printf '%s\\n' \"$").append(names.group(1)).append('"');
    }
    assertThat(exported).as(command).isNotEmpty();
    List<String> values = run(print.toString()).lines().toList();
    assertThat(values).as(command).hasSize(exported.size());
    for (int i = 0; i < exported.size(); i++) {
      assertThat(values.get(i)).as(exported.get(i)).isNotBlank();
      env.put(exported.get(i), values.get(i));
    }
  }

  /**
   * What a long-running command prints once it is ready, or null for a command that runs to its
   * end.
   */
  private static String readyLine(String command) {
    if (command.startsWith("redis-server ")) {
      return ".*Ready to accept connections.*";
    }
    Matcher program = Pattern.compile("java -jar \\S+ (quickstart|proxy|agent)\\b.*").matcher(command);
    if (!program.matches()) {
      return null;
    }
    return switch (program.group(1)) {
      case "proxy" -> "Listening on http://127\\.0\\.0\\.1:\\d+/";
      case "agent" -> "Agent connected to .*";
      default -> "Proxy URL: .*";
    };
  }

  /** Starts a long-running command and waits until it printed {@code readyLine}. */
  private JarProcess start(String command, String readyLine) throws Exception {
    JarProcess process = JarProcess.shell("exec " + substitute(command), env, scratch);
    running.add(process);
    process.awaitLine(readyLine, READY);
    return process;
  }

  /** Runs a command to its end; it must exit with 0. Returns its standard output. */
  private String run(String command) throws Exception {
    try (JarProcess process = JarProcess.shell(substitute(command), env, scratch)) {
      int exit = process.awaitExit(Duration.ofSeconds(60));
      assertThat(exit).as(process.transcript()).isZero();
      return process.stdout().strip();
    }
  }
}
