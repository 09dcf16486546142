/** Helpers shared by the project's modules; not API. */
@NullMarked
package dev.invertingproxy.internal;

import org.jspecify.annotations.NullMarked;
