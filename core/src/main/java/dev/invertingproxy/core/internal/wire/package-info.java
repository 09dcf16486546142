/** The streaming HTTP/1.1 message codec: parser and writer. Not exported. */
@NullMarked
package dev.invertingproxy.core.internal.wire;

import org.jspecify.annotations.NullMarked;
