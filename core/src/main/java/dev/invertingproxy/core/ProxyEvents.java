package dev.invertingproxy.core;

import java.lang.System.Logger.Level;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Hands each event to every {@link ProxyListener}, in order; a listener that throws is logged
 * once (per listener) and skipped for that event, never disturbing the engine.
 *
 * <p>This class is thread-safe.
 */
final class ProxyEvents {
  private static final System.Logger LOGGER = System.getLogger(ProxyEngine.class.getName());

  private final List<ProxyListener> listeners;
  private final List<AtomicBoolean> warned;

  ProxyEvents(List<ProxyListener> listeners) {
    this.listeners = List.copyOf(listeners);
    this.warned = this.listeners.stream().map(l -> new AtomicBoolean()).toList();
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
    for (int i = 0; i < listeners.size(); i++) {
      ProxyListener listener = listeners.get(i);
      try {
        event.accept(listener);
      } catch (VirtualMachineError fatal) {
        throw fatal;
      } catch (Throwable e) { // an Error of a listener (a missing class, say) must not escape
        if (warned.get(i).compareAndSet(false, true)) {
          LOGGER.log(Level.WARNING, "a proxy listener failed (logged once): " + listener, e);
        }
      }
    }
  }
}
