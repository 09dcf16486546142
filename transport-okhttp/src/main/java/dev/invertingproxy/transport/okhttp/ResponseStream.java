package dev.invertingproxy.transport.okhttp;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A response body stream that runs an action when closed (once) and honours the {@link InputStream}
 * contract that a zero-length read returns 0 at once (Okio's stream would block to fill its buffer,
 * which hangs {@link InputStream#readNBytes(int)} on a body that pauses).
 *
 * <p>This class is not thread-safe, except {@link #close()}.
 */
final class ResponseStream extends FilterInputStream {
  private final IoAction onClose;
  private final AtomicBoolean closed = new AtomicBoolean();

  ResponseStream(InputStream in, IoAction onClose) {
    super(in);
    this.onClose = onClose;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      Objects.checkFromIndexSize(off, len, b.length);
      return 0;
    }
    return in.read(b, off, len);
  }

  @Override
  public void close() throws IOException {
    if (closed.compareAndSet(false, true)) {
      onClose.run();
    }
  }

  /** An action that may throw {@link IOException}. */
  @FunctionalInterface
  interface IoAction {
    void run() throws IOException;
  }
}
