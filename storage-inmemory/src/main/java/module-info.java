/** In-memory storage: registry and broker in one JVM (one proxy node). */
module dev.invertingproxy.storage.inmemory {
  requires dev.invertingproxy;
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy.storage.inmemory;

  provides dev.invertingproxy.spi.StorageProvider with
      dev.invertingproxy.storage.inmemory.InMemoryStorageProvider;
}
