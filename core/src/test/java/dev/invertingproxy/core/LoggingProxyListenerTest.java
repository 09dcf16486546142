package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** What the engine's logging listener prints: the access log's format, agents, refusals. */
class LoggingProxyListenerTest {
  private static final Instant T0 = Instant.parse("2026-12-06T10:15:30.120Z");

  private static ProxyListener.RequestEvent event(
      String backend, int status, long bytes, boolean complete, String reason) {
    return new ProxyListener.RequestEvent(
        T0, "203.0.113.7", "GET", "/a%2Fb?q=1", backend, status, bytes, Duration.ofNanos(3_100_000),
        complete, reason);
  }

  @Test
  void accessLogLines() {
    try (LogCapture access = new LogCapture(LoggingProxyListener.ACCESS_LOGGER)) {
      LoggingProxyListener listener = LoggingProxyListener.create(true);
      listener.requestEnded(event("laptop", 200, 512, true, null));
      listener.requestEnded(event(null, 400, 97, true, "request target has a \"dot\" segment"));
      listener.requestEnded(event("laptop", 0, 0, false, "the client left before the response"));
      listener.requestEnded(event("laptop", 200, 1000, false, "response cut: broken pipe"));
      assertThat(access.at(Level.INFO))
          .containsExactly(
              "2026-12-06T10:15:30.120Z 203.0.113.7 GET /a%2Fb?q=1 laptop 200 512 3.1ms",
              "2026-12-06T10:15:30.120Z 203.0.113.7 GET /a%2Fb?q=1 - 400 97 3.1ms"
                  + " \"request target has a \\\"dot\\\" segment\"",
              "2026-12-06T10:15:30.120Z 203.0.113.7 GET /a%2Fb?q=1 laptop - 0 3.1ms cut"
                  + " \"the client left before the response\"",
              "2026-12-06T10:15:30.120Z 203.0.113.7 GET /a%2Fb?q=1 laptop 200 1000 3.1ms cut"
                  + " \"response cut: broken pipe\"");
    }
  }

  @Test
  void noAccessLogUnlessAskedFor() {
    try (LogCapture access = new LogCapture(LoggingProxyListener.ACCESS_LOGGER)) {
      LoggingProxyListener.create(false).requestEnded(event("laptop", 200, 512, true, null));
      assertThat(access.records).isEmpty();
    }
  }

  @Test
  void agentsComingAndGoing() {
    try (LogCapture log = new LogCapture(LoggingProxyListener.class)) {
      LoggingProxyListener listener = LoggingProxyListener.create(false);
      ProxyListener.AgentEvent agent =
          new ProxyListener.AgentEvent("laptop", "token-1", "198.51.100.2", "a1b2");
      listener.agentConnected(agent);
      listener.agentDisconnected(agent, true);
      listener.agentDisconnected(new ProxyListener.AgentEvent("laptop", "go", "198.51.100.3", ""), false);
      assertThat(log.at(Level.INFO))
          .containsExactly(
              "agent connected: backend laptop, identity token-1, address 198.51.100.2, agent a1b2",
              "agent disconnected: backend laptop, identity token-1, address 198.51.100.2, agent a1b2"
                  + " (it stopped cleanly)",
              "agent disconnected: backend laptop, identity go, address 198.51.100.3"
                  + " (no call within the liveness window)");
    }
  }

  @Test
  void refusalsAreLoggedOncePerCallerAndMinute() {
    try (LogCapture log = new LogCapture(LoggingProxyListener.class)) {
      LoggingProxyListener listener = LoggingProxyListener.create(false);
      for (int i = 0; i < 50; i++) {
        listener.agentRefused(
            new ProxyListener.AgentRefusal(401, "no credential", "198.51.100.9", "laptop", null));
      }
      listener.agentRefused(
          new ProxyListener.AgentRefusal(
              403, "agent token-2 may not act for backend laptop", "198.51.100.9", "laptop", "token-2"));
      listener.agentRefused(
          new ProxyListener.AgentRefusal(401, "no credential", "198.51.100.10", "laptop", null));
      assertThat(log.at(Level.WARNING))
          .containsExactly(
              "agent call refused (401) from 198.51.100.9, backend laptop: no credential",
              "agent call refused (403) from 198.51.100.9, identity token-2, backend laptop:"
                  + " agent token-2 may not act for backend laptop",
              "agent call refused (401) from 198.51.100.10, backend laptop: no credential");
    }
  }

  @Test
  void refusalsWithoutCredentialsCannotFloodTheLog() {
    try (LogCapture log = new LogCapture(LoggingProxyListener.class)) {
      LoggingProxyListener listener = LoggingProxyListener.create(false);
      for (int i = 0; i < 50; i++) {
        // a caller without a credential names a new backend each time, with a line break in it
        listener.agentRefused(
            new ProxyListener.AgentRefusal(401, "no credential", "198.51.100.9", "b\n" + i, null));
      }
      for (int i = 0; i < 100; i++) {
        // many callers: at most 60 lines a minute in all
        listener.agentRefused(
            new ProxyListener.AgentRefusal(401, "no credential", "10.0.0." + i, "b", null));
      }
      List<String> lines = log.at(Level.WARNING);
      assertThat(lines).hasSize(60);
      assertThat(lines.get(0)).isEqualTo("agent call refused (401) from 198.51.100.9, backend b 0: no credential");
    }
  }
}
