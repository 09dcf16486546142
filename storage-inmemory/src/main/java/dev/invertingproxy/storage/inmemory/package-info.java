/**
 * In-memory storage for a single proxy node, selected by the URI {@code memory:}.
 *
 * <p>Starting points: {@link dev.invertingproxy.storage.inmemory.InMemoryStorage#create()} or
 * discovery through {@link dev.invertingproxy.storage.inmemory.InMemoryStorageProvider}.
 */
@NullMarked
package dev.invertingproxy.storage.inmemory;

import org.jspecify.annotations.NullMarked;
