package dev.invertingproxy.core;

import dev.invertingproxy.core.protocol.Capabilities;
import dev.invertingproxy.core.protocol.NotServedException;
import dev.invertingproxy.core.protocol.ProxyCallException;
import dev.invertingproxy.core.protocol.ProxyClient.Polled;
import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.spi.CancelSignal;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * The agent's poll mode of the extension {@code next-request}: workers poll {@code agent/next}
 * themselves, each poll answered with a claimed request, which the poller relays before it polls
 * again. While one relays, another poller is started if none is waiting and a permit is free, so a
 * poll stays open while there is capacity (as many as idle workers under load); a poller whose poll
 * ended empty while another waits retires, so an idle agent keeps one poll open. A proxy that stops
 * serving {@code agent/next} sends the agent back to listing (through {@link PollModes}).
 *
 * <p>This class is thread-safe.
 */
final class NextPolling {
  private final ProxyClient client;
  private final ProxyConnection connection;
  private final AgentWorkers workers;
  private final RequestRelay relay;
  private final BooleanSupplier running;
  /** Pollers alive; each holds a permit while it lives. */
  private final AtomicInteger pollers = new AtomicInteger();
  /** Pollers inside a poll right now. */
  private final AtomicInteger waiting = new AtomicInteger();

  NextPolling(
      ProxyClient client,
      ProxyConnection connection,
      AgentWorkers workers,
      RequestRelay relay,
      BooleanSupplier running) {
    this.client = client;
    this.connection = connection;
    this.workers = workers;
    this.relay = relay;
    this.running = running;
  }

  /** Starts a poller holding a permit the caller acquired. */
  void startPoller(PollModes modes) {
    pollers.incrementAndGet();
    try {
      workers.execute(() -> pollLoop(modes));
    } catch (RuntimeException rejected) {
      pollers.decrementAndGet();
      workers.release();
    }
  }

  private void pollLoop(PollModes modes) {
    int failures = 0;
    int notServed = 0;
    try {
      while (running.getAsBoolean()) {
        Polled polled;
        CancelSignal poll = new CancelSignal();
        waiting.incrementAndGet();
        try {
          if (!modes.opened(poll)) {
            return; // the agent stops; close() may have missed this poll
          }
          polled = client.next(poll);
          connection.answered(polled.capabilities());
          failures = 0;
        } catch (NotServedException e) {
          if (e.status() == 200) {
            // A server that takes any call for a list call answered: it announces nothing, so
            // this agent must never say goodbye through this address (see ProxyConnection).
            connection.answered(Capabilities.NONE);
          }
          notServed = e.status();
          return; // no agent/next here (any more): back to listing, below
        } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
          if (!running.getAsBoolean() || poll.isCancelled() || e instanceof InterruptedException) {
            return;
          }
          if (e instanceof ProxyCallException refused
              && refused.status() == 429
              && waiting.get() > 1) {
            return; // the proxy has enough of our polls, and another one is open
          }
          // Otherwise this poller retries, with back-off: retiring on errors could leave none.
          failures++;
          if (!DefaultAgentLoop.pause(connection.failed(e, failures))) {
            return;
          }
          continue;
        } finally {
          waiting.decrementAndGet();
          modes.closed(poll);
        }
        if (polled.claimed().isEmpty()) {
          if (waiting.get() > 0) {
            return; // another poll is open: one is enough while idle
          }
          continue;
        }
        if (waiting.get() == 0 && running.getAsBoolean() && workers.tryAcquire()) {
          startPoller(modes); // keep a poll open while this worker relays
        }
        workers.countUp();
        try {
          relay.relay(polled.claimed().get());
        } finally {
          workers.countDown();
        }
      }
    } finally {
      pollers.decrementAndGet();
      workers.release();
      if (notServed != 0) {
        modes.backToListing(notServed);
      }
    }
  }
}
