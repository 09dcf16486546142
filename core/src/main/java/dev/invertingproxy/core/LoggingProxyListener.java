package dev.invertingproxy.core;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The engine's log: agents connecting and disconnecting (INFO), refused agent calls (WARNING, at
 * most one line per minute for each caller, status and backend (a caller without a credential:
 * per address), with a count of those left out, and at most 60 such lines a minute in all),
 * and, if asked for, an access log: one line per client request on the logger {@value
 * #ACCESS_LOGGER} at INFO.
 *
 * <p>Access log line: start time (UTC, ISO-8601), client address, method, target, backend ({@code
 * -} if none was chosen), status ({@code -} if none was sent: the client left), response body
 * bytes, duration in milliseconds, then {@code cut} if the response did not end cleanly, and the
 * proxy's reason in quotes where it has one:
 *
 * <pre>
 * 2026-12-06T10:15:30.120Z 203.0.113.7 GET /status laptop 200 512 3.1ms
 * 2026-12-06T10:15:31.002Z 203.0.113.7 GET /x laptop 503 84 0.4ms "no agent is connected for backend laptop (...)"
 * </pre>
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class LoggingProxyListener implements ProxyListener {
  /** The access log's logger name. */
  public static final String ACCESS_LOGGER = "dev.invertingproxy.access";

  private static final System.Logger LOGGER = System.getLogger(LoggingProxyListener.class.getName());
  private static final System.Logger ACCESS = System.getLogger(ACCESS_LOGGER);
  private static final long REFUSAL_WINDOW_NANOS = Duration.ofMinutes(1).toNanos();
  private static final int MAX_REFUSAL_KEYS = 1000;

  private final boolean accessLog;
  private final ConcurrentHashMap<String, RefusalWindow> refusals = new ConcurrentHashMap<>();
  private final LineBudget lines = new LineBudget();
  private static final int MAX_REFUSAL_LINES = 60;

  private LoggingProxyListener(boolean accessLog) {
    this.accessLog = accessLog;
  }

  /** Logs agents and refusals; with {@code accessLog}, also one line per client request. */
  public static LoggingProxyListener create(boolean accessLog) {
    return new LoggingProxyListener(accessLog);
  }

  /** Whether this listener writes the access log. */
  public boolean accessLog() {
    return accessLog;
  }

  @Override
  public void requestEnded(RequestEvent event) {
    if (!accessLog || !ACCESS.isLoggable(Level.INFO)) {
      return;
    }
    StringBuilder line = new StringBuilder(128);
    line.append(DateTimeFormatter.ISO_INSTANT.format(event.start().truncatedTo(ChronoUnit.MILLIS)))
        .append(' ')
        .append(event.clientAddress().isEmpty() ? "-" : event.clientAddress())
        .append(' ')
        .append(event.method())
        .append(' ')
        .append(event.target())
        .append(' ')
        .append(event.backendId() == null ? "-" : event.backendId())
        .append(' ')
        .append(event.status() == 0 ? "-" : String.valueOf(event.status()))
        .append(' ')
        .append(event.bytes())
        .append(' ')
        .append(String.format(java.util.Locale.ROOT, "%.1fms", event.duration().toNanos() / 1e6));
    if (!event.complete()) {
      line.append(" cut");
    }
    if (event.reason() != null) {
      line.append(" \"").append(quotable(event.reason())).append('"');
    }
    ACCESS.log(Level.INFO, line.toString());
  }

  @Override
  public void agentConnected(AgentEvent event) {
    LOGGER.log(Level.INFO, () -> "agent connected: " + describe(event));
  }

  @Override
  public void agentDisconnected(AgentEvent event, boolean left) {
    LOGGER.log(
        Level.INFO,
        () ->
            "agent disconnected: "
                + describe(event)
                + (left ? " (it stopped cleanly)" : " (no call within the liveness window)"));
  }

  @Override
  public void agentRefused(AgentRefusal refusal) {
    if (!LOGGER.isLoggable(Level.WARNING)) {
      return;
    }
    // A caller without a credential is known by its address alone: the backend it names is its
    // own text, and must not open a window of its own per value.
    String key =
        refusal.status()
            + " "
            + refusal.address()
            + (refusal.status() == 401 ? "" : " " + refusal.backendId());
    if (refusals.size() > MAX_REFUSAL_KEYS) {
      refusals.clear(); // bounded; the global cap below still holds
    }
    long now = System.nanoTime();
    long[] suppressed = {-1};
    refusals.compute(
        key,
        (k, window) -> {
          if (window != null && now - window.start <= REFUSAL_WINDOW_NANOS) {
            window.suppressed++;
            return window;
          }
          // A line is due for this caller; the budget for all callers decides. Refused, the
          // window stays as it was, its count growing, and the caller gets its line later.
          if (!lines.tryAcquire(now)) {
            if (window == null) {
              RefusalWindow waiting = new RefusalWindow(now - REFUSAL_WINDOW_NANOS - 1);
              waiting.suppressed = 1;
              return waiting;
            }
            window.suppressed++;
            return window;
          }
          suppressed[0] = window == null ? 0 : window.suppressed;
          return new RefusalWindow(now);
        });
    if (suppressed[0] < 0) {
      return; // logged within the last minute, or over the budget: counted
    }
    long dropped = lines.droppedBefore();
    if (dropped > 0) {
      LOGGER.log(
          Level.WARNING,
          "agent calls refused: " + dropped + " lines left out in the last minute (more than "
              + MAX_REFUSAL_LINES + " callers)");
    }
    LOGGER.log(
        Level.WARNING,
        "agent call refused ("
            + refusal.status()
            + ") from "
            + refusal.address()
            + (refusal.identity() == null ? "" : ", identity " + shortened(refusal.identity()))
            + (refusal.backendId() == null ? "" : ", backend " + shortened(refusal.backendId()))
            + ": "
            + shortened(refusal.reason())
            + (suppressed[0] > 0
                ? " (and " + suppressed[0] + " more like it since the previous line)"
                : ""));
  }

  /** Text a caller chose, made safe for one log line: control characters out, at most 200 chars. */
  private static String shortened(String text) {
    String line = quotable(text);
    return line.length() <= 200 ? line : line.substring(0, 200) + "...";
  }

  /** Control characters become spaces; quotes and backslashes are escaped. */
  private static String quotable(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        out.append(' ');
      } else if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /** At most {@link #MAX_REFUSAL_LINES} refusal lines a minute, whoever the callers are. */
  private static final class LineBudget {
    private long windowStart = System.nanoTime();
    private int used;
    private long dropped;
    private long droppedBefore;

    synchronized boolean tryAcquire(long now) {
      if (now - windowStart > REFUSAL_WINDOW_NANOS) {
        windowStart = now;
        used = 0;
        droppedBefore += dropped;
        dropped = 0;
      }
      if (used < MAX_REFUSAL_LINES) {
        used++;
        return true;
      }
      dropped++;
      return false;
    }

    /** Lines left out in earlier windows and not told yet; told once. */
    synchronized long droppedBefore() {
      long told = droppedBefore;
      droppedBefore = 0;
      return told;
    }
  }

  private static String describe(AgentEvent event) {
    return "backend "
        + event.backendId()
        + ", identity "
        + event.identity()
        + ", address "
        + event.address()
        + (event.agentId().isEmpty() ? "" : ", agent " + event.agentId());
  }

  /** Refusals of one key within a minute: the first is logged, the rest counted. */
  private static final class RefusalWindow {
    final long start;
    long suppressed; // guarded by the map's compute

    RefusalWindow(long start) {
      this.start = start;
    }
  }
}
