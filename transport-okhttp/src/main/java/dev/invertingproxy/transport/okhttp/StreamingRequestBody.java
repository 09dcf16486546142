package dev.invertingproxy.transport.okhttp;

import java.io.IOException;
import java.io.InputStream;
import java.net.ProtocolException;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.MediaType;
import okhttp3.RequestBody;
import okio.BufferedSink;
import org.jspecify.annotations.Nullable;

/**
 * A one-shot request body copying a stream while OkHttp sends it. A known length is enforced: a
 * stream that ends early or runs long fails the call instead of desynchronizing the connection.
 * Bytes are flushed whenever the source has nothing more immediately available, so a slowly
 * produced body reaches the backend as it is produced.
 *
 * <p>This class is thread-safe: a second {@link #writeTo} fails.
 */
final class StreamingRequestBody extends RequestBody {
  private static final int BUFFER_SIZE = 16 * 1024;

  private final InputStream in;
  private final long contentLength;
  private final AtomicBoolean written = new AtomicBoolean();

  StreamingRequestBody(InputStream in, long contentLength) {
    this.in = in;
    this.contentLength = contentLength;
  }

  @Override
  public @Nullable MediaType contentType() {
    return null; // the original Content-Type header travels with the other headers
  }

  @Override
  public long contentLength() {
    return contentLength;
  }

  @Override
  public boolean isOneShot() {
    return true;
  }

  @Override
  public void writeTo(BufferedSink sink) throws IOException {
    if (!written.compareAndSet(false, true)) {
      throw new IOException("the request body is a stream and was already sent");
    }
    byte[] buffer = new byte[BUFFER_SIZE];
    long total = 0;
    for (int n; (n = in.read(buffer)) != -1; ) {
      total += n;
      if (contentLength >= 0 && total > contentLength) {
        throw new ProtocolException(
            "request body is longer than its declared length " + contentLength);
      }
      sink.write(buffer, 0, n);
      if (in.available() <= 0) {
        sink.flush();
      }
    }
    if (contentLength >= 0 && total != contentLength) {
      throw new ProtocolException(
          "request body ended after " + total + " of " + contentLength + " bytes");
    }
  }
}
