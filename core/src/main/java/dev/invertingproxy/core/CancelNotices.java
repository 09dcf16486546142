package dev.invertingproxy.core;

import dev.invertingproxy.core.protocol.ProxyClient;
import dev.invertingproxy.spi.CancelSignal;
import java.lang.System.Logger.Level;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * Cancel handling of the agent (extension {@code cancel-notices}): the {@link CancelSignal} of each
 * request being relayed, and one thread ({@code inverting-proxy-agent-cancel}) that long-polls the
 * proxy's cancel notices while requests are in flight and cancels the signals of requests whose
 * clients left, which aborts their backend calls. Started once, by the first answer announcing the
 * extension.
 *
 * <p>This class is thread-safe.
 */
final class CancelNotices {
  private static final System.Logger LOGGER = System.getLogger(DefaultAgentLoop.class.getName());

  private final ProxyClient client;
  private final ProxyConnection connection;
  private final AgentWorkers workers;
  private final BooleanSupplier running;
  private final ConcurrentHashMap<String, CancelSignal> signals = new ConcurrentHashMap<>();
  private final Thread poller;
  private final AtomicBoolean started = new AtomicBoolean();
  /** The open poll's signal: stopping cancels it. */
  private volatile CancelSignal open = new CancelSignal();

  CancelNotices(
      ProxyClient client, ProxyConnection connection, AgentWorkers workers, BooleanSupplier running) {
    this.client = client;
    this.connection = connection;
    this.workers = workers;
    this.running = running;
    this.poller = new Thread(this::pollLoop, "inverting-proxy-agent-cancel");
    this.poller.setDaemon(true);
  }

  /** Returns the signal of request {@code id}, registered until {@link #forget}. */
  CancelSignal register(String id) {
    CancelSignal signal = new CancelSignal();
    signals.put(id, signal);
    return signal;
  }

  /** The request's relay ended. */
  void forget(String id) {
    signals.remove(id);
  }

  /** The proxy announced cancel notices: starts polling them, once. */
  void start() {
    if (started.compareAndSet(false, true)) {
      poller.start();
    }
  }

  /** The agent stops: ends the poll. */
  void stop() {
    poller.interrupt();
    open.cancel();
  }

  private void pollLoop() {
    int failures = 0;
    while (running.getAsBoolean()) {
      // Only while requests are in flight: nothing can be cancelled otherwise, and an idle agent
      // then holds one connection to the proxy, not two.
      if (!workers.awaitBusy(running) || !running.getAsBoolean()) {
        return;
      }
      CancelSignal poll = new CancelSignal();
      open = poll;
      if (!running.getAsBoolean()) {
        return; // stop() may have missed this poll
      }
      try {
        for (String id : client.listCancelled(poll)) {
          CancelSignal signal = signals.get(id);
          if (signal != null) {
            LOGGER.log(Level.DEBUG, () -> "[" + id + "] the client left: aborting the backend call");
            signal.cancel();
          }
        }
        failures = 0;
      } catch (Exception e) { // OkHttp may throw InterruptedException undeclared when stopped
        if (!running.getAsBoolean() || e instanceof InterruptedException) {
          return;
        }
        failures++;
        // The list or next polls report the connection's state; this one only waits alike.
        if (!DefaultAgentLoop.pause(connection.waitAfter(e, failures))) {
          return;
        }
      }
    }
  }
}
