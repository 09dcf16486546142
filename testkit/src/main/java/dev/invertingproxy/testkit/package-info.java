/**
 * Conformance suites: a plugin is done when it passes its kit.
 *
 * <p>Starting points: extend {@link dev.invertingproxy.testkit.AbstractStorageConformanceTest}
 * and implement {@code newStorage(StorageOptions)}.
 */
@NullMarked
package dev.invertingproxy.testkit;

import org.jspecify.annotations.NullMarked;
