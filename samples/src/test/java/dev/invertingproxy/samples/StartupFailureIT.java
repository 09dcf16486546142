package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
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
      assertThat(proxy.stderr()).contains("cannot reach Redis at redis://127.0.0.1:1");
      assertThat(proxy.stdout()).doesNotContain("Listening on");
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
