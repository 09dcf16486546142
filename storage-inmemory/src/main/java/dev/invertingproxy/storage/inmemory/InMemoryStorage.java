package dev.invertingproxy.storage.inmemory;

import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Registry and broker in this JVM's memory, for a single proxy node. Request and response bodies
 * are not copied into memory: the agent's read streams straight from the client's connection and
 * the agent's post straight into it.
 *
 * <p>It owns one daemon timer thread (long-poll time-outs); {@link #close()} stops it.
 *
 * <p>This class is thread-safe.
 */
public final class InMemoryStorage implements Storage {
  private final InMemoryRegistry registry;
  private final InMemoryBroker broker;
  private final ScheduledExecutorService timer;
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Creates a storage with {@link StorageOptions#defaults()}. */
  public static InMemoryStorage create() {
    return new InMemoryStorage(StorageOptions.defaults());
  }

  /** Creates a storage with the given options. */
  public InMemoryStorage(StorageOptions options) {
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "inverting-proxy-memory-timer");
              thread.setDaemon(true);
              return thread;
            });
    this.registry = new InMemoryRegistry();
    this.broker = new InMemoryBroker(options, timer);
  }

  @Override
  public BackendRegistry registry() {
    return registry;
  }

  @Override
  public RequestBroker broker() {
    return broker;
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      broker.close();
      timer.shutdownNow();
    }
  }
}
