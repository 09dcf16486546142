package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.testkit.RawHttpClient;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The target rule ({@code RequestTargets}) on every endpoint of a real Jetty proxy with our agent:
 * a path prefix is an authorization boundary that no spelling of a dot segment crosses, and every
 * other target reaches the backend byte for byte.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TargetRuleIT {
  private Relay relay;

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
  }

  /** The agent's backend serves the prefix {@code /foo} only. */
  private void startWithPrefix() throws Exception {
    relay = Relay.withoutAgent(engine -> engine.routeByRegistry());
    relay.storage.registry().put(
        new BackendRecord(
            Relay.BACKEND_ID, Set.of("agent-1"), Set.of(BackendRecord.ALL_USERS), List.of("/foo"), null));
    relay.startAgent(relay.backend.uri());
  }

  private RawHttpClient.Response get(String target) throws Exception {
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send("GET " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
      return client.read("GET");
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "/foo/../bar",
        "/foo/%2e%2e/bar",
        "/foo/%2E%2E/bar",
        "/foo/.%2e/bar",
        "/foo/%2e./bar",
        "/foo/..%2fbar",
        "/foo/..%2Fbar",
        "/foo/%252e%252e/bar",
        "/foo/./bar",
        "/foo/%2e/bar",
        "/foo/x/../../bar",
        "http://h/foo/../bar",
      })
  @DisplayName("a dot segment in any spelling: 400 from the proxy; the backend sees nothing")
  void dotSegmentsAreRefusedByTheProxy(String target) throws Exception {
    startWithPrefix();
    RawHttpClient.Response response = get(target);
    assertThat(response.status()).isEqualTo(400);
    assertThat(response.bodyText()).contains("dot segment");
    assertThat(get("/foo/after").status()).isEqualTo(200); // the node serves on
    assertThat(relay.backend.take().head().target()).isEqualTo("/foo/after");
    assertThat(relay.backend.received).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"/foo/..;/bar", "/foo/..\\bar", "/foo/../../bar", "/%2e%2e/bar"})
  @DisplayName("spellings Jetty itself refuses (path parameter, backslash, above the root): 400")
  void spellingsTheContainerRefuses(String target) throws Exception {
    startWithPrefix();
    assertThat(get(target).status()).isEqualTo(400);
    assertThat(get("/foo/after").status()).isEqualTo(200);
    assertThat(relay.backend.take().head().target()).isEqualTo("/foo/after");
    assertThat(relay.backend.received).isEmpty();
  }

  @Test
  @DisplayName("outside the prefix: 404; inside it the target is sent unchanged")
  void prefixHolds() throws Exception {
    startWithPrefix();
    assertThat(get("/bar").status()).isEqualTo(404);
    assertThat(get("/foobar").status()).isEqualTo(404);
    for (String target : List.of("/foo", "/foo/", "/foo//x", "/foo/a%2Fb", "/foo/...", "/foo/a..b?q=/../x")) {
      assertThat(get(target).status()).as(target).isEqualTo(200);
      assertThat(relay.backend.take().head().target()).isEqualTo(target);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"/x/../agent/pending", "/x/%2e%2e/agent/pending", "/agent/./pending"})
  @DisplayName("the agent endpoint is not reached through a dot segment, even with a valid token")
  void agentEndpointRefusesDotSegments(String target) throws Exception {
    startWithPrefix();
    try (RawHttpClient client = new RawHttpClient(relay.port())) {
      client.send(
          "GET " + target + " HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + Relay.AGENT_TOKEN
              + "\r\nX-Inverting-Proxy-Backend-ID: " + Relay.BACKEND_ID
              + "\r\nConnection: close\r\n\r\n");
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(400);
      assertThat(response.bodyText()).contains("dot segment");
    }
  }

  @Test
  @DisplayName("the admin endpoint is not reached through a dot segment")
  void adminEndpointRefusesDotSegments() throws Exception {
    relay = Relay.withoutAgent(engine -> {});
    Server server = new Server();
    ServerConnector connector =
        new ServerConnector(server, new HttpConnectionFactory(JettyProxyHost.httpConfiguration(relay.engine)));
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(
        JettyProxyHost.servletContext(
            relay.engine,
            ProxyServlet.UserResolver.PRINCIPAL,
            AgentAuthenticator.bearerTokens(Map.of("admin-token", "admin-1"))));
    server.start();
    try (RawHttpClient client = new RawHttpClient(connector.getLocalPort())) {
      client.send(
          "GET /x/../api/backends HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer admin-token\r\n"
              + "Connection: close\r\n\r\n");
      RawHttpClient.Response response = client.read("GET");
      assertThat(response.status()).isEqualTo(400);
      assertThat(response.bodyText()).contains("dot segment");
    } finally {
      server.stop();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"//agent/pending", "//x", "/a//b", "/a%2Fb", "/%7Euser", "/a;b=c/d"})
  @DisplayName("targets without dot segments reach the backend byte for byte")
  void otherTargetsUnchanged(String target) throws Exception {
    relay = Relay.withAgent();
    assertThat(get(target).status()).isEqualTo(200);
    assertThat(relay.backend.take().head().target()).isEqualTo(target);
  }
}
