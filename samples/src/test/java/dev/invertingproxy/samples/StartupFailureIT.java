package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The packaged jar refuses bad configuration at start, clearly and with a non-zero exit. */
class StartupFailureIT {
  private static final Duration EXIT = Duration.ofSeconds(30);

  @Test
  void unknownStorageSchemeNamesTheKnownSchemes() throws Exception {
    try (JarProcess proxy =
        JarProcess.start("proxy", "--port", "0", "--bind", "127.0.0.1", "--storage", "nosuch://x")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(1);
      assertThat(proxy.stderr())
          .contains("error: no storage provider for the URI scheme 'nosuch'")
          .contains("known schemes: memory:, redis://");
      assertThat(proxy.stdout()).doesNotContain("Listening on");
    }
  }

  @Test
  void unreachableRedisExitsOneNamingIt() throws Exception {
    try (JarProcess proxy =
        JarProcess.start(
            "proxy", "--port", "0", "--bind", "127.0.0.1", "--agent-token", "t",
            "--storage", "redis://127.0.0.1:1")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(1);
      assertThat(proxy.stderr())
          .isEqualTo("error: cannot reach Redis at 127.0.0.1:1: connection refused\n");
      assertThat(proxy.stdout()).doesNotContain("Listening on");
    }
  }

  @Test
  void redisPasswordIsNeverPrinted() throws Exception {
    try (JarProcess proxy =
        JarProcess.start(
            "proxy", "--port", "0", "--bind", "127.0.0.1", "--agent-token", "t",
            "--storage", "redis://:s3cret-pw@127.0.0.1:1/2")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(1);
      assertThat(proxy.stderr())
          .contains("error: cannot reach Redis at 127.0.0.1:1: connection refused")
          .doesNotContain("s3cret-pw");
    }
  }

  @Test
  void redisPasswordIsNotShownWhenTheProviderRepeatsTheUri() throws Exception {
    for (String storage :
        new String[] {"redis://:s3cret-pw@127.0.0.1:1/not-a-number", "nosuch://u:s3cret-pw@h/"}) {
      try (JarProcess proxy =
          JarProcess.start(
              "proxy", "--port", "0", "--bind", "127.0.0.1", "--agent-token", "t",
              "--storage", storage)) {
        assertThat(proxy.awaitExit(EXIT)).as(storage).isEqualTo(1);
        assertThat(proxy.stderr())
            .as(storage)
            .startsWith("error: ")
            .contains("://***@")
            .doesNotContain("s3cret-pw");
        assertThat(proxy.stdout()).doesNotContain("Listening on");
      }
    }
  }

  @Test
  void misspelledTokenFlagDoesNotPrintTheToken() throws Exception {
    try (JarProcess proxy =
        JarProcess.start("proxy", "--port", "0", "--bind", "127.0.0.1", "--agent-tokn", "s3cret-t")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(2);
      assertThat(proxy.stderr())
          .startsWith("Unknown option: '--agent-tokn'\n")
          .contains("Usage: inverting-proxy proxy")
          .doesNotContain("s3cret");
      assertThat(proxy.stdout()).isEmpty();
    }
  }

  @Test
  void credentialsInTheProxyUrlAreRefusedAndNotPrinted() throws Exception {
    try (JarProcess agent =
        JarProcess.start(
            "agent", "--proxy", "http://agent:s3cret-pw@127.0.0.1:9/", "--backend", "b")) {
      assertThat(agent.awaitExit(EXIT)).isEqualTo(2);
      assertThat(agent.stderr())
          .startsWith(
              "Invalid value for option '--proxy': credentials in the URL are not supported; use "
                  + "--token or --token-file\n")
          .doesNotContain("s3cret");
      assertThat(agent.stdout()).isEmpty();
    }
  }

  @Test
  void portInUseSaysSoAndSuggestsAnother() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        JarProcess proxy =
            JarProcess.start(
                "proxy", "--port", Integer.toString(taken.getLocalPort()), "--bind", "127.0.0.1",
                "--agent-token", "t")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(1);
      assertThat(proxy.stderr())
          .isEqualTo(
              "error: port "
                  + taken.getLocalPort()
                  + " on 127.0.0.1 is in use: stop what uses it, choose another --port, or use "
                  + "--port 0 for a free one\n");
      assertThat(proxy.stdout()).doesNotContain("Listening on");
    }
  }

  @Test
  void unknownCommandNamesTheCommands() throws Exception {
    try (JarProcess typo = JarProcess.start("prxy")) {
      assertThat(typo.awaitExit(EXIT)).isEqualTo(2);
      assertThat(typo.stderr())
          .startsWith("Unknown command 'prxy'; the commands are: quickstart, proxy, agent, help\n")
          .contains("Did you mean: inverting-proxy proxy?");
      assertThat(typo.stdout()).isEmpty();
    }
  }

  @Test
  void proxyUrlWithoutSchemeSaysWhatToWrite() throws Exception {
    try (JarProcess agent = JarProcess.start("agent", "--proxy", "127.0.0.1:8080", "--backend", "b")) {
      assertThat(agent.awaitExit(EXIT)).isEqualTo(2);
      assertThat(agent.stderr())
          .startsWith(
              "Invalid value for option '--proxy': '127.0.0.1:8080' has no scheme; write "
                  + "http://127.0.0.1:8080/ (or https://...)\n");
    }
  }

  @Test
  void tokenAndTokenFileTogetherIsAUsageError() throws Exception {
    try (JarProcess agent =
        JarProcess.start(
            "agent", "--proxy", "http://127.0.0.1:9/", "--backend", "b", "--token", "x",
            "--token-file", "agent-token")) {
      assertThat(agent.awaitExit(EXIT)).isEqualTo(2);
      assertThat(agent.stderr())
          .startsWith("--token and --token-file exclude each other")
          .contains("Usage: inverting-proxy agent");
    }
  }

  @Test
  void anonymousAgentsWithTheTokenInTheEnvironmentNamesTheVariable() throws Exception {
    try (JarProcess proxy =
        JarProcess.startWithEnvironment(
            Map.of("INVERTING_PROXY_AGENT_TOKEN", "env-s3cret"),
            "proxy", "--port", "0", "--bind", "127.0.0.1", "--allow-anonymous-agents")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(2);
      assertThat(proxy.stderr())
          .startsWith(
              "--allow-anonymous-agents and an agent token exclude each other, and the "
                  + "environment variable INVERTING_PROXY_AGENT_TOKEN holds one: anonymous agents "
                  + "would make it pointless (unset the variable, or drop "
                  + "--allow-anonymous-agents)\n")
          .doesNotContain("--agent-token exclude")
          .doesNotContain("env-s3cret");
      assertThat(proxy.stdout()).isEmpty();
    }
  }

  @Test
  void tokenInTheEnvironmentIsNamedAsSuchWhenItClashes() throws Exception {
    try (JarProcess proxy =
        JarProcess.startWithEnvironment(
            Map.of("INVERTING_PROXY_AGENT_TOKEN", "env-s3cret"),
            "proxy", "--port", "0", "--bind", "127.0.0.1", "--admin-token", "env-s3cret")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(2);
      assertThat(proxy.stderr())
          .startsWith(
              "Invalid value for option '--admin-token': the same token is the agent token in "
                  + "the environment variable INVERTING_PROXY_AGENT_TOKEN; an agent must not be "
                  + "an admin\n")
          .doesNotContain("env-s3cret");
    }
  }

  @Test
  void emptyTokenVariableIsNamed() throws Exception {
    try (JarProcess agent =
        JarProcess.startWithEnvironment(
            Map.of("INVERTING_PROXY_AGENT_TOKEN", ""),
            "agent", "--proxy", "http://127.0.0.1:9/", "--backend", "b")) {
      assertThat(agent.awaitExit(EXIT)).isEqualTo(2);
      assertThat(agent.stderr())
          .startsWith(
              "INVERTING_PROXY_AGENT_TOKEN is set but empty: unset it, or set it to the agent's "
                  + "token\n")
          .contains("Usage: inverting-proxy agent");
    }
  }

  @Test
  void missingTokenFileIsAUsageErrorAtStart() throws Exception {
    try (JarProcess agent =
        JarProcess.start(
            "agent", "--proxy", "http://127.0.0.1:9/", "--backend", "b", "--token-file",
            "/nonexistent/agent-token")) {
      assertThat(agent.awaitExit(EXIT)).isEqualTo(2);
      assertThat(agent.stderr())
          .startsWith(
              "Invalid value for option '--token-file': cannot read /nonexistent/agent-token: no "
                  + "such file\n")
          .contains("Usage: inverting-proxy agent");
      assertThat(agent.stdout()).doesNotContain("Agent started");
    }
  }

  @Test
  void badFlagExitsTwoNamingTheFlag() throws Exception {
    try (JarProcess proxy = JarProcess.start("proxy", "--port", "0", "--bind", "127.0.0.1", "--nope")) {
      assertThat(proxy.awaitExit(EXIT)).isEqualTo(2);
      assertThat(proxy.stderr())
          .contains("Unknown option: '--nope'")
          .contains("Usage: inverting-proxy proxy");
      assertThat(proxy.stdout()).isEmpty();
    }
  }

  @Test
  void badDurationExitsTwoNamingTheFlag() throws Exception {
    try (JarProcess agent =
        JarProcess.start(
            "agent", "--proxy", "http://127.0.0.1:9/", "--backend", "b", "--proxy-timeout", "60")) {
      assertThat(agent.awaitExit(EXIT)).isEqualTo(2);
      assertThat(agent.stderr())
          .contains("Invalid value for option '--proxy-timeout'")
          .contains("missing unit in duration \"60\"");
    }
  }
}
