package dev.invertingproxy.core;

import dev.invertingproxy.core.protocol.Capabilities;
import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient.Claimed;
import dev.invertingproxy.core.protocol.ProxyClient.Listed;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.spi.CancelSignal;
import java.lang.System.Logger.Level;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The agent's v1 poll mode: one thread ({@code inverting-proxy-agent-poll}) lists pending request
 * IDs ({@code agent/pending}), and each new ID is read and relayed on a worker; listing pauses while
 * every worker is busy, so the proxy keeps the rest for other agents. An ID seen lately is not
 * taken twice. When an answer announces {@code next-request}, the lister hands over to {@link
 * NextPolling} (through {@link PollModes}) and ends.
 *
 * <p>This class is thread-safe.
 */
final class ListPolling {
  private static final System.Logger LOGGER = System.getLogger(DefaultAgentLoop.class.getName());
  private static final int SEEN_IDS = 1000;
  private static final int READ_ATTEMPTS = 3;

  private final ProxyClient client;
  private final ProxyConnection connection;
  private final AgentWorkers workers;
  private final RequestRelay relay;
  private final CancelNotices notices;
  private final BooleanSupplier running;
  private final Map<String, Boolean> seen =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
          return size() > SEEN_IDS;
        }
      };

  ListPolling(
      ProxyClient client,
      ProxyConnection connection,
      AgentWorkers workers,
      RequestRelay relay,
      CancelNotices notices,
      BooleanSupplier running) {
    this.client = client;
    this.connection = connection;
    this.workers = workers;
    this.relay = relay;
    this.notices = notices;
    this.running = running;
  }

  /**
   * Lists and dispatches until the agent stops or a list answer announces {@code next-request}.
   *
   * @return true if the proxy hands requests out in its polls (the caller switches modes)
   */
  boolean run(PollModes modes) {
    int failures = 0;
    while (running.getAsBoolean()) {
      Listed listed;
      CancelSignal poll = new CancelSignal();
      connection.pollStarted();
      try {
        try {
          if (!modes.opened(poll)) {
            connection.pollEnded();
            return false; // the agent stops; close() may have missed this poll
          }
          listed = client.listPending(poll);
        } finally {
          modes.closed(poll);
        }
        connection.pollEnded();
        connection.answered(listed.capabilities());
        failures = 0;
      } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
        connection.pollEnded();
        if (!running.getAsBoolean() || e instanceof InterruptedException) {
          return false;
        }
        failures++;
        if (!DefaultAgentLoop.pause(connection.failed(e, failures))) {
          return false;
        }
        continue;
      }
      if (listed.capabilities().has(Capabilities.CANCEL_NOTICES)) {
        notices.start(); // this proxy tells us when clients leave
      }
      if (!dispatch(listed)) {
        return false;
      }
      // This proxy hands requests out in the poll: after these IDs, workers poll themselves.
      if (listed.capabilities().has(Capabilities.NEXT_REQUEST)) {
        return true;
      }
    }
    return false;
  }

  /** Dispatches the new IDs to workers; false if the agent stops meanwhile. */
  private boolean dispatch(Listed listed) {
    for (String id : listed.ids()) {
      if (!firstSight(id)) {
        continue;
      }
      // Waits while all workers are busy; the IDs taken stay ours. (With several agents, one
      // offered such an ID again after the proxy's re-offer delay may also serve it.)
      try {
        workers.acquire();
      } catch (InterruptedException interrupted) {
        forget(id);
        return false;
      }
      if (!running.getAsBoolean()) {
        workers.release();
        forget(id);
        return false;
      }
      workers.countUp();
      try {
        workers.execute(() -> serve(id));
      } catch (RuntimeException rejected) {
        workers.finished();
        forget(id);
      }
    }
    return true;
  }

  /** Serves a listed request on a worker: reads it, then relays it. */
  private void serve(String id) {
    try {
      Claimed claimed = read(id);
      if (claimed != null) {
        relay.relay(claimed);
      }
    } finally {
      workers.finished();
    }
  }

  /**
   * Reads the request, retrying a failed read twice (the proxy serves a read again until the body
   * has started to stream). Returns null if the proxy refused it or every attempt failed.
   */
  private @Nullable Claimed read(String id) {
    for (int attempt = 1; ; attempt++) {
      try {
        return client.read(id);
      } catch (ProxyCallException e) {
        if (e.status() < 500 || attempt == READ_ATTEMPTS) {
          LOGGER.log(
              Level.DEBUG, () -> "[" + id + "] read refused: " + e.status() + " " + e.getMessage());
          return null;
        }
      } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
        if (!running.getAsBoolean() || e instanceof InterruptedException) {
          LOGGER.log(Level.DEBUG, () -> "[" + id + "] read abandoned: the agent stops");
          return null;
        }
        if (attempt == READ_ATTEMPTS) {
          LOGGER.log(Level.WARNING, () -> "[" + id + "] read failed: " + e);
          return null;
        }
      }
      try {
        Thread.sleep(connection.transientWait(attempt));
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
  }

  private boolean firstSight(String id) {
    synchronized (seen) {
      return seen.put(id, Boolean.TRUE) == null;
    }
  }

  private void forget(String id) {
    synchronized (seen) {
      seen.remove(id);
    }
  }
}
