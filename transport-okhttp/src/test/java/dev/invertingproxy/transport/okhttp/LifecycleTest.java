package dev.invertingproxy.transport.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.junit5.StartStop;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

class LifecycleTest {
  @StartStop final MockWebServer proxy = new MockWebServer();

  /** A list poll, as the agent makes it (core's client over the transport). */
  private static List<String> listPending(OkHttpAgentTransport transport) throws IOException {
    return TestConfigs.client(transport).listPending(new CancelSignal()).ids();
  }

  @Test
  void closeIsIdempotentAndLaterCallsFail() {
    OkHttpAgentTransport transport = OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy));
    transport.close();
    transport.close();

    assertThat(transport.isClosed()).isTrue();
    assertThatThrownBy(() -> listPending(transport))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(
            () ->
                transport.forward(
                    new RequestHead("GET", "/", "HTTP/1.1", Headers.of("Host", "h")),
                    MessageBody.empty()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void closeEndsABlockedLongPoll() throws Exception {
    OkHttpAgentTransport transport = OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy));
    proxy.enqueue(new MockResponse.Builder().body("[]").headersDelay(1, TimeUnit.MINUTES).build());

    CompletableFuture<List<String>> poll =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return listPending(transport);
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            });
    await().atMost(5, TimeUnit.SECONDS).until(() -> proxy.getRequestCount() == 1);
    transport.close();

    assertThatThrownBy(() -> poll.get(5, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseInstanceOf(IOException.class);
  }

  @Test
  void ownedClientIsShutDown() {
    OkHttpAgentTransport transport = OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy));
    OkHttpClient client = transport.proxyClient();
    assertThat(client.dispatcher().getMaxRequestsPerHost()).isGreaterThanOrEqualTo(4 * 3);

    transport.close();

    assertThat(client.dispatcher().executorService().isShutdown()).isTrue();
    assertThat(client.connectionPool().connectionCount()).isZero();
  }

  @Test
  void callerOwnedBaseClientKeepsWorking() throws Exception {
    OkHttpClient base = new OkHttpClient();
    try {
      OkHttpAgentTransport transport =
          OkHttpAgentTransport.create(TestConfigs.proxyConfig(proxy), base);
      assertThat(transport.proxyClient().dispatcher()).isSameAs(base.dispatcher());
      assertThat(transport.proxyClient().connectionPool()).isSameAs(base.connectionPool());
      // The backend's connections have their own pool, with the backend keep-alive.
      assertThat(transport.backendClient().connectionPool()).isNotSameAs(base.connectionPool());
      assertThat(transport.backendClient().dispatcher()).isSameAs(base.dispatcher());
      proxy.enqueue(new MockResponse.Builder().body("[\"a\"]").build());
      assertThat(listPending(transport)).containsExactly("a");

      transport.close();

      assertThat(base.dispatcher().executorService().isShutdown()).isFalse();
      proxy.enqueue(new MockResponse.Builder().body("still here").build());
      try (Response response =
          base.newCall(new Request.Builder().url(proxy.url("/")).build()).execute()) {
        assertThat(response.body().string()).isEqualTo("still here");
      }
    } finally {
      base.dispatcher().executorService().shutdown();
      base.connectionPool().evictAll();
    }
  }

  @Test
  void baseInterceptorsApplyToTheProxyButNotToTheBackend() throws Exception {
    OkHttpClient base =
        new OkHttpClient.Builder()
            .addInterceptor(
                chain ->
                    chain.proceed(chain.request().newBuilder().header("X-From-Base", "1").build()))
            .build();
    try (MockWebServer backend = new MockWebServer()) {
      backend.start(java.net.InetAddress.getByName("127.0.0.1"), 0);
      try (OkHttpAgentTransport transport =
          OkHttpAgentTransport.create(
              TestConfigs.config(
                  TestConfigs.uri(proxy, "/"), TestConfigs.uri(backend, ""), Headers::empty),
              base)) {
        proxy.enqueue(new MockResponse.Builder().body("[]").build());
        backend.enqueue(new MockResponse.Builder().build());

        listPending(transport);
        transport
            .forward(
                new RequestHead("GET", "/", "HTTP/1.1", Headers.of("Host", "h")),
                MessageBody.empty())
            .close();

        assertThat(proxy.takeRequest().getHeaders().get("X-From-Base")).isEqualTo("1");
        assertThat(backend.takeRequest().getHeaders().get("X-From-Base")).isNull();
      }
    } finally {
      base.dispatcher().executorService().shutdown();
      base.connectionPool().evictAll();
    }
  }
}
