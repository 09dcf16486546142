package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import com.squareup.moshi.JsonAdapter;
import com.squareup.moshi.Moshi;
import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.storage.inmemory.InMemoryStorage;
import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ContextHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The admin REST API ({@link AdminServlet}) in real Jetty, mounted by {@link JettyProxyHost}. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AdminApiIT {
  private static final String AGENT_TOKEN = "agent-token";
  private static final String ADMIN_TOKEN = "admin-token";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final JsonAdapter<Object> ANY = new Moshi.Builder().build().adapter(Object.class);

  private InMemoryStorage storage;
  private ProxyEngine engine;
  private Server server;
  private URI proxy;
  private OkHttpClient client;

  @BeforeEach
  void start() throws Exception {
    storage = InMemoryStorage.create();
    engine =
        ProxyEngine.builder()
            .storage(storage)
            .backend("b1")
            .agentAuthenticator(AgentAuthenticator.bearerTokens(Map.of(AGENT_TOKEN, "agent-1")))
            .build();
    server =
        startProxy(
            JettyProxyHost.servletContext(
                engine,
                ProxyServlet.UserResolver.PRINCIPAL,
                AgentAuthenticator.bearerTokens(Map.of(ADMIN_TOKEN, "admin-1"))));
    proxy = uri(server);
    client = new OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build();
  }

  @AfterEach
  void stop() throws Exception {
    client.dispatcher().executorService().shutdownNow();
    client.connectionPool().evictAll();
    server.stop();
    engine.close();
    storage.close();
  }

  /** Jetty as {@code Relay.startProxy} sets it up, with the given context. */
  private Server startProxy(ContextHandler context) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(50, 4);
    threads.setName("admin-proxy");
    Server server = new Server(threads);
    ServerConnector connector =
        new ServerConnector(server, new HttpConnectionFactory(JettyProxyHost.httpConfiguration(engine)));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    connector.setIdleTimeout(JettyProxyHost.IDLE_TIMEOUT.toMillis());
    server.addConnector(connector);
    server.setHandler(context);
    server.start();
    return server;
  }

  private static URI uri(Server server) {
    return URI.create(
        "http://127.0.0.1:" + ((ServerConnector) server.getConnectors()[0]).getLocalPort() + "/");
  }

  private record Answer(int status, String body, okhttp3.Headers headers) {}

  private Answer call(String method, String path, String token, String body) throws IOException {
    return call(proxy, method, path, token, body);
  }

  private Answer call(URI base, String method, String path, String token, String body)
      throws IOException {
    Request.Builder request = new Request.Builder().url(base.resolve(path).toString());
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    request.method(method, body == null ? null : RequestBody.create(body, JSON));
    try (Response response = client.newCall(request.build()).execute()) {
      return new Answer(response.code(), response.body().string(), response.headers());
    }
  }

  private Answer admin(String method, String path, String body) throws IOException {
    return call(method, path, ADMIN_TOKEN, body);
  }

  private Object listed() throws IOException {
    Answer answer = admin("GET", "/api/backends", null);
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.headers().get("Content-Type")).startsWith("application/json");
    return ANY.fromJson(answer.body());
  }

  @Test
  void emptyListIsAnEmptyArray() throws IOException {
    Answer answer = admin("GET", "/api/backends", null);
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body()).isEqualTo("[]");
  }

  @Test
  void createListOverwriteDelete() throws IOException {
    Answer created =
        admin(
            "POST",
            "/api/backends",
            "{\"id\":\"b1\",\"endUser\":\"alice@example.com\",\"backendUser\":\"agent-1\","
                + "\"pathPrefixes\":[\"/\"],\"lastUsed\":\"2020-01-01T00:00:00Z\"}");
    assertThat(created.status()).isEqualTo(200);
    assertThat(created.body()).isEmpty();
    assertThat(listed())
        .isEqualTo(
            List.of(
                Map.of(
                    "id", "b1",
                    "endUser", "alice@example.com",
                    "backendUser", "agent-1",
                    "pathPrefixes", List.of("/"),
                    "lastUsed", "1970-01-01T00:00:00Z")));
    assertThat(storage.registry().get("b1").orElseThrow().lastUsed()).isNull(); // input ignored

    Answer overwritten =
        admin(
            "POST",
            "/api/backends",
            "{\"id\":\"b1\",\"endUser\":\"allUsers\",\"backendUsers\":[\"agent-2\",\"agent-1\"],"
                + "\"pathPrefixes\":[\"/app\",\"/static\"],\"unknown\":{\"x\":1}}");
    assertThat(overwritten.status()).isEqualTo(200);
    assertThat(listed())
        .isEqualTo(
            List.of(
                Map.of(
                    "id", "b1",
                    "endUser", BackendRecord.ALL_USERS,
                    "backendUser", "agent-1",
                    "backendUsers", List.of("agent-1", "agent-2"),
                    "pathPrefixes", List.of("/app", "/static"),
                    "lastUsed", "1970-01-01T00:00:00Z")));
    assertThat(storage.registry().get("b1").orElseThrow().agentIdentities())
        .isEqualTo(Set.of("agent-1", "agent-2"));

    Answer deleted = admin("DELETE", "/api/backends/b1", null);
    assertThat(deleted.status()).isEqualTo(200);
    assertThat(deleted.body()).isEmpty();
    assertThat(listed()).isEqualTo(List.of());
    assertThat(storage.registry().get("b1")).isEmpty();
  }

  @Test
  void severalEndUsersAndLastUsedAreWritten() throws IOException {
    assertThat(
            admin(
                    "POST",
                    "/api/backends",
                    "{\"id\":\"b2\",\"endUsers\":[\"zed@example.com\"],"
                        + "\"endUser\":\"bob@example.com\",\"backendUser\":\"agent-1\","
                        + "\"pathPrefixes\":[\"/\"]}")
                .status())
        .isEqualTo(200);
    assertThat(admin("POST", "/api/backends", record("a1")).status()).isEqualTo(200);
    Instant used = Instant.parse("2024-05-06T07:08:09Z");
    storage.registry().used("b2", used);
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> records = (List<Map<String, Object>>) listed();
    assertThat(records).extracting(r -> r.get("id")).containsExactly("a1", "b2"); // by ID
    Map<String, Object> b2 = records.get(1);
    assertThat(b2.get("endUser")).isEqualTo("bob@example.com");
    assertThat(b2.get("endUsers")).isEqualTo(List.of("bob@example.com", "zed@example.com"));
    assertThat(b2).doesNotContainKey("backendUsers");
    assertThat(b2.get("lastUsed")).isEqualTo("2024-05-06T07:08:09Z");
  }

  @Test
  void idInThePathIsPercentDecoded() throws IOException {
    assertThat(admin("POST", "/api/backends", record("a b")).status()).isEqualTo(200);
    assertThat(admin("DELETE", "/api/backends/a%20b", null).status()).isEqualTo(200);
    assertThat(storage.registry().list()).isEmpty();
  }

  @Test
  void deletingAnUnknownBackendIs404() throws IOException {
    Answer answer = admin("DELETE", "/api/backends/nope", null);
    assertThat(answer.status()).isEqualTo(404);
    assertThat(answer.body()).contains("nope");
    assertThat(admin("DELETE", "/api/backends/", null).status()).isEqualTo(400);
  }

  @Test
  void invalidRecordsAre400NamingTheField() throws IOException {
    String[][] cases = {
      {"{\"endUser\":\"u\",\"backendUser\":\"a\",\"pathPrefixes\":[\"/\"]}", "id"},
      {"{\"id\":\"\",\"endUser\":\"u\",\"backendUser\":\"a\",\"pathPrefixes\":[\"/\"]}", "id"},
      {"{\"id\":\"b\",\"endUser\":\"u\",\"pathPrefixes\":[\"/\"]}", "backendUser"},
      {"{\"id\":\"b\",\"endUser\":\"u\",\"backendUsers\":[],\"pathPrefixes\":[\"/\"]}",
        "backendUser"},
      {"{\"id\":\"b\",\"backendUser\":\"a\",\"pathPrefixes\":[\"/\"]}", "endUser"},
      {"{\"id\":\"b\",\"endUser\":\"\",\"backendUser\":\"a\",\"pathPrefixes\":[\"/\"]}", "endUser"},
      {"{\"id\":\"b\",\"endUsers\":[\"\"],\"backendUser\":\"a\",\"pathPrefixes\":[\"/\"]}",
        "endUsers"},
      {"{\"id\":\"b\",\"endUser\":\"u\",\"backendUser\":\"a\"}", "pathPrefixes"},
      {"{\"id\":\"b\",\"endUser\":\"u\",\"backendUser\":\"a\",\"pathPrefixes\":[]}", "pathPrefixes"},
      {"{\"id\":\"b\",\"endUser\":\"u\",\"backendUser\":\"a\",\"pathPrefixes\":[\"app\"]}",
        "pathPrefixes"},
      {"{\"id\":\"b\",\"endUser\":\"u\",\"backendUser\":\"a\",\"pathPrefixes\":\"/\"}",
        "pathPrefixes"},
      {"{\"id\":[\"b\"],\"endUser\":\"u\",\"backendUser\":\"a\",\"pathPrefixes\":[\"/\"]}", "id"},
    };
    for (String[] c : cases) {
      Answer answer = admin("POST", "/api/backends", c[0]);
      assertThat(answer.status()).as(c[0]).isEqualTo(400);
      assertThat(answer.body()).as(c[0]).contains(c[1]).endsWith("\n");
      assertThat(answer.body().strip()).as(c[0]).doesNotContain("\n");
    }
    assertThat(storage.registry().list()).isEmpty();
  }

  @Test
  void malformedJsonIs400() throws IOException {
    for (String body : new String[] {"{\"id\":", "not json", "", "[1,2]", "null", "{} {}"}) {
      Answer answer = admin("POST", "/api/backends", body);
      assertThat(answer.status()).as(body).isEqualTo(400);
      assertThat(answer.body().strip()).as(body).isNotEmpty().doesNotContain("\n");
    }
    assertThat(storage.registry().list()).isEmpty();
  }

  @Test
  void missingOrWrongAdminTokenIs401() throws IOException {
    for (String token : new String[] {null, "wrong", AGENT_TOKEN}) {
      for (String[] request :
          new String[][] {
            {"GET", "/api/backends", null},
            {"POST", "/api/backends", record("x")},
            {"DELETE", "/api/backends/x", null},
            {"GET", "/api/other", null},
            {"GET", "/api", null},
          }) {
        Answer answer = call(request[0], request[1], token, request[2]);
        assertThat(answer.status()).as(token + " " + request[0] + " " + request[1]).isEqualTo(401);
        assertThat(answer.headers().get("WWW-Authenticate")).isEqualTo("Bearer");
      }
    }
    assertThat(storage.registry().list()).isEmpty();
  }

  @Test
  void agentTokenIsNotAnAdminToken() throws IOException {
    // The agent token is valid for agents...
    Answer poll =
        call("GET", "/agent/pending?x", AGENT_TOKEN, null); // reaches AgentServlet, not us
    assertThat(poll.status()).isNotEqualTo(401);
    // ...but not for admins.
    assertThat(call("GET", "/api/backends", AGENT_TOKEN, null).status()).isEqualTo(401);
  }

  @Test
  void wrongMethodIs405WithAllow() throws IOException {
    Answer put = admin("PUT", "/api/backends", record("x"));
    assertThat(put.status()).isEqualTo(405);
    assertThat(put.headers().get("Allow")).isEqualTo("GET, POST");
    Answer getOne = admin("GET", "/api/backends/x", null);
    assertThat(getOne.status()).isEqualTo(405);
    assertThat(getOne.headers().get("Allow")).isEqualTo("DELETE");
    Answer deleteAll = admin("DELETE", "/api/backends", null);
    assertThat(deleteAll.status()).isEqualTo(405);
    assertThat(deleteAll.headers().get("Allow")).isEqualTo("GET, POST");
  }

  @Test
  void otherPathsUnderApiAre404() throws IOException {
    for (String path : new String[] {"/api/other", "/api", "/api/backends/a/b", "/api/backendsx"}) {
      Answer answer = admin("GET", path, null);
      assertThat(answer.status()).as(path).isEqualTo(404);
    }
  }

  @Test
  void withoutAdminCredentialEveryAdminCallIs401() throws Exception {
    Server denying =
        startProxy(
            JettyProxyHost.servletContext(
                engine, ProxyServlet.UserResolver.PRINCIPAL, AgentAuthenticator.denyAll()));
    try {
      URI base = uri(denying);
      for (String token : new String[] {null, ADMIN_TOKEN, AGENT_TOKEN}) {
        Answer answer = call(base, "GET", "/api/backends", token, null);
        assertThat(answer.status()).isEqualTo(401);
        assertThat(answer.headers().get("WWW-Authenticate")).isEqualTo("Bearer");
      }
    } finally {
      denying.stop();
    }
  }

  @Test
  void withoutTheAdminOverloadApiPathsAreRelayedAsBefore() throws Exception {
    Server plain = startProxy(JettyProxyHost.servletContext(engine));
    try {
      // No agent is live for b1, so the proxy servlet answers 503; no admin API here.
      Answer answer = call(uri(plain), "GET", "/api/backends", ADMIN_TOKEN, null);
      assertThat(answer.status()).isEqualTo(503);
      assertThat(answer.headers().get("WWW-Authenticate")).isNull();
    } finally {
      plain.stop();
    }
  }

  private static String record(String id) {
    return "{\"id\":\""
        + id
        + "\",\"endUser\":\"allUsers\",\"backendUser\":\"agent-1\",\"pathPrefixes\":[\"/\"]}";
  }
}
