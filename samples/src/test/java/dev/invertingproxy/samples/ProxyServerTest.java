package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.ProxyEngine;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import org.junit.jupiter.api.Test;

/** The proxy's printed URL, and how a failure to listen is told apart; on 127.0.0.1 only. */
class ProxyServerTest {
  @Test
  void aWildcardAddressIsPrintedAsLoopback() {
    assertThat(ProxyServer.url("0.0.0.0", 8080)).isEqualTo(URI.create("http://127.0.0.1:8080/"));
    assertThat(ProxyServer.url("::", 8080)).isEqualTo(URI.create("http://[::1]:8080/"));
    assertThat(ProxyServer.url("0:0:0:0:0:0:0:0", 8080)).isEqualTo(URI.create("http://[::1]:8080/"));
    assertThat(ProxyServer.isWildcard("[::]")).isTrue();
  }

  @Test
  void otherAddressesAreKept() {
    assertThat(ProxyServer.url("127.0.0.1", 81)).isEqualTo(URI.create("http://127.0.0.1:81/"));
    assertThat(ProxyServer.url("::1", 81)).isEqualTo(URI.create("http://[::1]:81/"));
    assertThat(ProxyServer.url("10.0.0.7", 81)).isEqualTo(URI.create("http://10.0.0.7:81/"));
    assertThat(ProxyServer.url("proxy.example", 81)).isEqualTo(URI.create("http://proxy.example:81/"));
    assertThat(ProxyServer.isWildcard("localhost")).isFalse();
  }

  @Test
  void aTakenPortIsToldApart() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        ProxyEngine engine =
            ProxyEngine.builder()
                .storage("memory:")
                .backend("b")
                .agentAuthenticator(AgentAuthenticator.denyAll())
                .build()) {
      Throwable failure =
          catchThrowable(() -> ProxyServer.start(engine, "127.0.0.1", taken.getLocalPort()));
      assertThat(failure).isNotNull();
      assertThat(ProxyServer.isPortInUse(failure)).isTrue();
    }
    assertThat(ProxyServer.isPortInUse(new java.net.BindException("Cannot assign requested address")))
        .isFalse();
  }
}
