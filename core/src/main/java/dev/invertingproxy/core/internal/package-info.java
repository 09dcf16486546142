/** Implementation of core; not exported. */
@NullMarked
package dev.invertingproxy.core.internal;

import org.jspecify.annotations.NullMarked;
