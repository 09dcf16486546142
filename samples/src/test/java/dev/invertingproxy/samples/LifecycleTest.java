package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Stopping in reverse order and reporting failures; the signal side is covered by the ITs, which
 * send SIGTERM to real processes.
 */
class LifecycleTest {
  private final StringWriter err = new StringWriter();
  private final List<String> stopped = new CopyOnWriteArrayList<>();
  private final Lifecycle lifecycle = Lifecycle.manual(new PrintWriter(err, true));

  @Test
  void aRequestedStopStopsEverythingInReverseOrder() throws Exception {
    lifecycle.started("backend", () -> stopped.add("backend"));
    lifecycle.started("proxy", () -> stopped.add("proxy"));
    lifecycle.started("agent", () -> stopped.add("agent"));
    lifecycle.requestStop();

    assertThat(lifecycle.awaitStop()).isTrue();
    assertThat(stopped).containsExactly("agent", "proxy", "backend");
    assertThat(err.toString()).isEqualTo("Stopping ..." + System.lineSeparator());
  }

  @Test
  void aFailedStopIsReportedAndTheRestStillStops() throws Exception {
    lifecycle.started("backend", () -> stopped.add("backend"));
    lifecycle.started(
        "proxy (Jetty)",
        () -> {
          throw new IOException("socket gone");
        });
    lifecycle.started("agent", () -> stopped.add("agent"));
    lifecycle.requestStop();

    assertThat(lifecycle.awaitStop()).isFalse();
    assertThat(stopped).containsExactly("agent", "backend");
    assertThat(err.toString())
        .contains("error: could not stop the proxy (Jetty): java.io.IOException: socket gone");
  }

  @Test
  void anIncompleteStopIsOneErrorLineAndNotClean() throws Exception {
    lifecycle.started("backend", () -> stopped.add("backend"));
    lifecycle.started(
        "agent",
        () -> {
          throw new Lifecycle.IncompleteStop("requests still in flight after 1s were cut");
        });
    lifecycle.requestStop();

    assertThat(lifecycle.awaitStop()).isFalse();
    assertThat(stopped).containsExactly("backend");
    assertThat(err.toString())
        .isEqualTo(
            "Stopping ..."
                + System.lineSeparator()
                + "error: requests still in flight after 1s were cut"
                + System.lineSeparator());
  }

  @Test
  void abortStopsQuietlyAndOnlyOnce() throws Exception {
    lifecycle.started("engine", () -> stopped.add("engine"));
    lifecycle.abort();
    lifecycle.requestStop();

    assertThat(lifecycle.awaitStop()).isTrue();
    assertThat(stopped).containsExactly("engine");
    assertThat(err.toString()).isEmpty();
  }
}
