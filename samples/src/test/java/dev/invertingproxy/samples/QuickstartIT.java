package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;

/** The packaged jar's quickstart, as a newcomer runs it. */
class QuickstartIT {
  private static final Duration START = Duration.ofSeconds(30);
  private final HttpClient http =
      HttpClient.newBuilder()
          .connectTimeout(Duration.ofSeconds(5))
          .followRedirects(HttpClient.Redirect.NEVER)
          .build();

  @Test
  void quickstartServesTheDemoPageThroughTheProxy() throws Exception {
    try (JarProcess quickstart = JarProcess.start("quickstart", "--port", "0")) {
      Matcher url = quickstart.awaitLine("Proxy URL: (http://127\\.0\\.0\\.1:(\\d+)/)", START);
      URI proxy = URI.create(url.group(1));
      Matcher tryLine = quickstart.awaitLine("Try: curl (\\S+)", Duration.ofSeconds(5));
      assertThat(tryLine.group(1)).isEqualTo(proxy.resolve("hello").toString());
      assertThat(quickstart.stdout()).contains("not anonymous");

      HttpResponse<String> page = get(proxy.resolve("hello?from=it"));
      assertThat(page.statusCode()).as(quickstart.transcript()).isEqualTo(200);
      // Jetty's servlet response re-renders Content-Type (the space after ';' goes): compare loosely
      assertThat(page.headers().firstValue("Content-Type").orElseThrow().replace(" ", ""))
          .isEqualTo("text/html;charset=utf-8");
      assertThat(page.body())
          .contains(DemoBackend.MARKER)
          .contains("GET /hello?from=it")
          .contains("from 127.0.0.1");

      HttpResponse<String> root = get(proxy);
      assertThat(root.statusCode()).isEqualTo(200);
      assertThat(root.body()).contains(DemoBackend.MARKER).contains("GET /");

      // SIGTERM (as Ctrl-C) stops it cleanly: agent, Jetty, engine, backend; exit code 0
      int exit = quickstart.stop(Duration.ofSeconds(20));
      assertThat(exit).as(quickstart.transcript()).isZero();
      assertThat(quickstart.stderr())
          .contains("Stopping ...")
          .doesNotContain("Exception")
          .doesNotContain("error")
          .doesNotContain("WARNING")
          .doesNotContain("SEVERE");
    }
  }

  @Test
  void aTakenPortFallsBackToAFreeOne() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        JarProcess quickstart =
            JarProcess.start("quickstart", "--port", Integer.toString(taken.getLocalPort()))) {
      Matcher url = quickstart.awaitLine("Proxy URL: (http://127\\.0\\.0\\.1:(\\d+)/)", START);
      assertThat(Integer.parseInt(url.group(2))).isNotEqualTo(taken.getLocalPort());
      assertThat(quickstart.transcript()).contains("Port " + taken.getLocalPort() + " is in use");
      HttpResponse<String> page = get(URI.create(url.group(1)));
      assertThat(page.statusCode()).isEqualTo(200);
      assertThat(page.body()).contains(DemoBackend.MARKER);
    }
  }

  @Test
  void helpExitsZeroWithUsage() throws Exception {
    try (JarProcess help = JarProcess.start("--help")) {
      assertThat(help.awaitExit(START)).isZero();
      assertThat(help.stdout())
          .contains("Usage: inverting-proxy")
          .contains("quickstart")
          .contains("proxy")
          .contains("agent");
    }
  }

  private HttpResponse<String> get(URI uri) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
