package dev.invertingproxy.storage.inmemory;

import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import dev.invertingproxy.testkit.AbstractStorageConformanceTest;

/** The storage kit against the in-memory storage. It is one node: no MULTI_NODE capability. */
class InMemoryStorageConformanceTest extends AbstractStorageConformanceTest {
  @Override
  protected Storage newStorage(StorageOptions options) {
    return new InMemoryStorage(options);
  }
}
