package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.spi.AgentTransport.BodyWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.MediaType;
import okhttp3.RequestBody;
import okio.BufferedSink;
import org.jspecify.annotations.Nullable;

/**
 * A posted body (such as a response posted to the proxy): chunked (unknown length), one-shot, produced by a {@link
 * BodyWriter} while OkHttp sends it. When the writer flushes, the bytes go out as a chunk. When the
 * writer throws, the exception propagates out of {@link #writeTo}, so OkHttp never writes the
 * terminating chunk and drops the connection: the proxy sees an incomplete body, not a clean end.
 *
 * <p>This class is thread-safe: a second {@link #writeTo} fails.
 */
final class WriterRequestBody extends RequestBody {
  private final BodyWriter writer;
  private final AtomicBoolean written = new AtomicBoolean();

  WriterRequestBody(BodyWriter writer) {
    this.writer = writer;
  }

  /** None: the call's headers name it. */
  @Override
  public @Nullable MediaType contentType() {
    return null;
  }

  @Override
  public long contentLength() {
    return -1;
  }

  @Override
  public boolean isOneShot() {
    return true;
  }

  @Override
  public void writeTo(BufferedSink sink) throws IOException {
    if (!written.compareAndSet(false, true)) {
      throw new IOException("the response body is a stream and was already sent");
    }
    SinkOutputStream out = new SinkOutputStream(sink);
    try {
      writer.writeTo(out);
    } catch (RuntimeException e) {
      throw new IOException("the response writer failed: " + e, e);
    } finally {
      out.closed = true;
    }
  }

  /**
   * Writes into OkHttp's sink; {@link #flush()} flushes through to the socket; {@link #close()}
   * only flushes and never closes the sink (OkHttp ends the body itself).
   *
   * <p>This class is not thread-safe.
   */
  private static final class SinkOutputStream extends OutputStream {
    private final BufferedSink sink;
    volatile boolean closed;

    SinkOutputStream(BufferedSink sink) {
      this.sink = sink;
    }

    @Override
    public void write(int b) throws IOException {
      ensureOpen();
      sink.writeByte(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      ensureOpen();
      sink.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
      if (!closed) {
        sink.flush();
      }
    }

    @Override
    public void close() throws IOException {
      if (!closed) {
        sink.flush();
        closed = true;
      }
    }

    private void ensureOpen() throws IOException {
      if (closed) {
        throw new IOException("stream closed");
      }
    }
  }
}
