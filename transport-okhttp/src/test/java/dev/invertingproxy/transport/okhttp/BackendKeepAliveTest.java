package dev.invertingproxy.transport.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A backend closes keep-alive connections that stay idle; the agent must not send a request on
 * one it has closed. A POST cannot be sent again (the backend may have acted on it), so the agent
 * closes idle connections first ({@link AgentConfig#backendKeepAlive()}).
 */
class BackendKeepAliveTest {
  private static final Duration BACKEND_IDLE = Duration.ofMillis(300);
  private static final long PAUSE_MILLIS = 900; // longer than BACKEND_IDLE, well under OkHttp's 10 s

  private static OkHttpAgentTransport transport(URI backend, Duration keepAlive) {
    AgentConfig config =
        TestConfigs.config(TestConfigs.UNUSED_BACKEND, backend, Headers::empty)
            .toBuilder()
            .backendKeepAlive(keepAlive)
            .build();
    return OkHttpAgentTransport.create(config);
  }

  private static String post(OkHttpAgentTransport transport) throws IOException {
    RequestHead head =
        new RequestHead("POST", "/", "HTTP/1.1", Headers.of("Host", "h", "Content-Length", "0"));
    try (BackendResponse response = transport.forward(head, MessageBody.empty())) {
      return new String(response.body().stream().readAllBytes(), UTF_8);
    }
  }

  @Test
  void idleConnectionsAreClosedBeforeTheBackendClosesThem() throws Exception {
    try (IdleClosingBackend backend = new IdleClosingBackend(BACKEND_IDLE);
        OkHttpAgentTransport transport = transport(backend.uri(), Duration.ofMillis(100))) {
      assertThat(post(transport)).isEqualTo("ok");
      assertThat(post(transport)).isEqualTo("ok"); // at once: the same connection
      assertThat(backend.connections.get()).isEqualTo(1);

      Thread.sleep(PAUSE_MILLIS);

      assertThat(post(transport)).isEqualTo("ok");
      assertThat(backend.connections.get()).isEqualTo(2);
      assertThat(backend.requests.get()).isEqualTo(3);
    }
  }

  @Test
  void keepAliveZeroUsesEachConnectionOnce() throws Exception {
    try (IdleClosingBackend backend = new IdleClosingBackend(BACKEND_IDLE);
        OkHttpAgentTransport transport = transport(backend.uri(), Duration.ZERO)) {
      assertThat(post(transport)).isEqualTo("ok");
      assertThat(post(transport)).isEqualTo("ok");
      assertThat(backend.connections.get()).isEqualTo(2);
    }
  }

  /** Why the keep-alive must stay below the backend's: the hazard this guards against is real. */
  @Test
  void aPostOnAConnectionTheBackendClosedFails() throws Exception {
    try (IdleClosingBackend backend = new IdleClosingBackend(BACKEND_IDLE);
        OkHttpAgentTransport transport = transport(backend.uri(), Duration.ofMinutes(5))) {
      assertThat(post(transport)).isEqualTo("ok");

      Thread.sleep(PAUSE_MILLIS);

      assertThatThrownBy(() -> post(transport))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("unexpected end of stream");
      assertThat(backend.requests.get()).isEqualTo(1); // sent, but nobody read it
    }
  }

  @Test
  void theDefaultKeepAliveOutrunsAServerThatClosesAfterTwoSeconds() throws Exception {
    // gunicorn's keep-alive is 2 s, the shortest among common servers.
    AgentConfig config =
        TestConfigs.config(TestConfigs.UNUSED_BACKEND, URI.create("http://127.0.0.1:1"), Headers::empty);
    assertThat(config.backendKeepAlive()).isEqualTo(AgentConfig.DEFAULT_BACKEND_KEEP_ALIVE);
    try (IdleClosingBackend backend = new IdleClosingBackend(Duration.ofSeconds(2));
        OkHttpAgentTransport transport = OkHttpAgentTransport.create(
            TestConfigs.config(TestConfigs.UNUSED_BACKEND, backend.uri(), Headers::empty))) {
      assertThat(post(transport)).isEqualTo("ok");

      Thread.sleep(2_500);

      assertThat(post(transport)).isEqualTo("ok");
      assertThat(backend.connections.get()).isEqualTo(2);
    }
  }
}
