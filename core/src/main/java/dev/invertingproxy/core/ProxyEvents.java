package dev.invertingproxy.core;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Hands each event to every {@link ProxyListener}, in order; a listener that throws is logged
 * once and skipped for that event, never disturbing the engine.
 *
 * <p>This class is thread-safe.
 */
final class ProxyEvents {
  private static final System.Logger LOGGER = System.getLogger(ProxyEngine.class.getName());

  private final List<ProxyListener> listeners;
  private final AtomicBoolean warned = new AtomicBoolean();

  ProxyEvents(List<ProxyListener> listeners) {
    this.listeners = List.copyOf(listeners);
  }

  void requestEnded(ProxyListener.RequestEvent event) {
    fire(listener -> listener.requestEnded(event));
  }

  void agentConnected(ProxyListener.AgentEvent event) {
    fire(listener -> listener.agentConnected(event));
  }

  void agentDisconnected(ProxyListener.AgentEvent event, boolean left) {
    fire(listener -> listener.agentDisconnected(event, left));
  }

  void agentRefused(ProxyListener.AgentRefusal refusal) {
    fire(listener -> listener.agentRefused(refusal));
  }

  private void fire(Consumer<ProxyListener> event) {
    for (ProxyListener listener : listeners) {
      try {
        event.accept(listener);
      } catch (RuntimeException e) {
        if (warned.compareAndSet(false, true)) {
          LOGGER.log(Level.WARNING, "a proxy listener failed (logged once): " + listener, e);
        }
      }
    }
  }
}
