package dev.invertingproxy.bench;

import dev.invertingproxy.core.protocol.AgentEndpoint;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Many idle agents in one JVM, polling one proxy the way our agent does when idle: each agent
 * (its own backend ID) keeps one {@code GET agent/next} long poll open (our agent polls cancel
 * notices only while requests are in flight), and polls again when it ends. Prints {@code all N polls open} once every poll is
 * sent and no answer has come back for two seconds (answers to idle polls come only after the
 * proxy's 25 s long-poll time-out, so an early answer is an error). Runs until killed.
 *
 * <p>Usage: {@code IdlePolls PROXY_URL AGENTS TOKEN}
 */
public final class IdlePolls {
  private IdlePolls() {}

  public static void main(String[] args) throws Exception {
    URI proxy = URI.create(args[0]);
    int agents = Integer.parseInt(args[1]);
    String token = args[2];
    HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .executor(Executors.newFixedThreadPool(2))
            .connectTimeout(Duration.ofSeconds(30))
            .build();
    AtomicInteger open = new AtomicInteger();
    AtomicLong lastEarlyAnswer = new AtomicLong(System.nanoTime());
    AtomicInteger errors = new AtomicInteger();
    for (int i = 0; i < agents; i++) {
      poll(client, proxy.resolve(AgentEndpoint.NEXT.path()), "idle-" + i, token, open, errors, lastEarlyAnswer);
      if (i % 250 == 249) {
        Thread.sleep(100); // a gentle ramp: the proxy's accept queue is finite
      }
    }
    System.out.println("sent " + agents + " polls");
    while (System.nanoTime() - lastEarlyAnswer.get() < 2_000_000_000L) {
      Thread.sleep(200);
    }
    if (errors.get() == 0) {
      System.out.println("all " + agents + " polls open (" + open.get() + " requests)");
    } else {
      System.out.println("ERROR " + errors.get() + " polls failed; all " + agents + " polls open: no");
    }
    Thread.sleep(Long.MAX_VALUE);
  }

  private static void poll(
      HttpClient client,
      URI uri,
      String backend,
      String token,
      AtomicInteger open,
      AtomicInteger errors,
      AtomicLong lastEarlyAnswer) {
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .header(ProtocolHeaders.BACKEND_ID, backend)
            .header("Authorization", "Bearer " + token)
            .timeout(Duration.ofSeconds(90))
            .build();
    long sent = System.nanoTime();
    open.incrementAndGet();
    client
        .sendAsync(request, HttpResponse.BodyHandlers.discarding())
        .whenComplete(
            (response, failure) -> {
              open.decrementAndGet();
              boolean early = System.nanoTime() - sent < 20_000_000_000L;
              boolean good = failure == null && (response.statusCode() == 204 || response.statusCode() == 200);
              if (early || !good) {
                lastEarlyAnswer.set(System.nanoTime());
                if (!good && errors.incrementAndGet() <= 5) {
                  System.out.println(
                      "ERROR " + backend + " " + uri.getPath() + ": "
                          + (failure != null ? failure : response.statusCode()));
                }
              }
              if (good) {
                poll(client, uri, backend, token, open, errors, lastEarlyAnswer);
              }
            });
  }
}
