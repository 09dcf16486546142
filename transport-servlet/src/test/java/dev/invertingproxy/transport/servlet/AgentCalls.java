package dev.invertingproxy.transport.servlet;

import java.io.IOException;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/** Plays an agent by hand with plain HTTP calls, to test the agent endpoints' answers. */
final class AgentCalls implements AutoCloseable {
  record Answer(int status, String body, okhttp3.Headers headers) {}

  private final OkHttpClient http =
      new OkHttpClient.Builder()
          .followRedirects(false)
          .retryOnConnectionFailure(false)
          .readTimeout(60, TimeUnit.SECONDS)
          .build();
  private final URI proxy;

  private final String token;

  /** Calls as an agent holding the relay's token. */
  AgentCalls(URI proxy) {
    this(proxy, Relay.AGENT_TOKEN);
  }

  /** Calls with {@code token} as the bearer token, or with no Authorization if null. */
  AgentCalls(URI proxy, String token) {
    this.proxy = proxy;
    this.token = token;
  }

  Answer pending(String backend) throws IOException {
    Request.Builder request = new Request.Builder().url(proxy.resolve("agent/pending").toString());
    if (backend != null) {
      request.header("X-Inverting-Proxy-Backend-ID", backend);
    }
    return call(request.build());
  }

  /** {@code GET agent/next} (extension {@code next-request}). */
  Answer next(String backend) throws IOException {
    Request.Builder request = new Request.Builder().url(proxy.resolve("agent/next").toString());
    if (backend != null) {
      request.header("X-Inverting-Proxy-Backend-ID", backend);
    }
    return call(request.build());
  }

  /** Starts {@code GET agent/next} in the background; cancelling the call disconnects. */
  okhttp3.Call startNext(String backend) {
    Request.Builder request =
        new Request.Builder()
            .url(proxy.resolve("agent/next").toString())
            .header("X-Inverting-Proxy-Backend-ID", backend);
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.newCall(request.build());
  }

  /** A list poll naming this agent ({@code X-Inverting-Proxy-Agent-ID}), as our agent sends it. */
  Answer pendingAs(String backend, String agentId) throws IOException {
    return call(
        new Request.Builder()
            .url(proxy.resolve("agent/pending").toString())
            .header("X-Inverting-Proxy-Backend-ID", backend)
            .header("X-Inverting-Proxy-Agent-ID", agentId)
            .build());
  }

  /** {@code POST agent/leave} (extension {@code leave-notice}). */
  Answer leave(String backend, String agentId) throws IOException {
    Request.Builder request =
        new Request.Builder()
            .url(proxy.resolve("agent/leave").toString())
            .post(RequestBody.create(new byte[0]))
            .header("X-Inverting-Proxy-Backend-ID", backend);
    if (agentId != null) {
      request.header("X-Inverting-Proxy-Agent-ID", agentId);
    }
    return call(request.build());
  }

  Answer read(String backend, String id) throws IOException {
    Request.Builder request = new Request.Builder().url(proxy.resolve("agent/request").toString());
    if (backend != null) {
      request.header("X-Inverting-Proxy-Backend-ID", backend);
    }
    if (id != null) {
      request.header("X-Inverting-Proxy-Request-ID", id);
    }
    return call(request.build());
  }

  Answer respond(String backend, String id, String wire) throws IOException {
    Request.Builder request =
        new Request.Builder()
            .url(proxy.resolve("agent/response").toString())
            .post(RequestBody.create(wire, MediaType.get("text/plain")));
    if (backend != null) {
      request.header("X-Inverting-Proxy-Backend-ID", backend);
    }
    if (id != null) {
      request.header("X-Inverting-Proxy-Request-ID", id);
    }
    return call(request.build());
  }

  private Answer call(Request request) throws IOException {
    if (token != null) {
      request = request.newBuilder().header("Authorization", "Bearer " + token).build();
    }
    try (Response response = http.newCall(request).execute()) {
      return new Answer(response.code(), response.body().string(), response.headers());
    }
  }

  @Override
  public void close() {
    http.dispatcher().executorService().shutdownNow();
    http.connectionPool().evictAll();
  }
}
