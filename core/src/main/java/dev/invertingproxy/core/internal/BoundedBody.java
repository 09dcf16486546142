package dev.invertingproxy.core.internal;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A body that may not grow past a limit while it streams (a chunked body declares no length up
 * front). Past the limit, reads fail and {@code onExceeded} runs once.
 */
public final class BoundedBody implements MessageBody {
  private final MessageBody body;
  private final InputStream stream;

  public BoundedBody(MessageBody body, long maxBytes, Runnable onExceeded) {
    this.body = body;
    this.stream =
        new FilterInputStream(body.stream()) {
          private long count;
          private boolean exceeded;

          @Override
          public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
              add(1);
            }
            return b;
          }

          @Override
          public int read(byte[] buffer, int off, int len) throws IOException {
            int n = super.read(buffer, off, len);
            if (n > 0) {
              add(n);
            }
            return n;
          }

          private void add(int n) throws IOException {
            count += n;
            if (count > maxBytes) {
              if (!exceeded) {
                exceeded = true;
                onExceeded.run();
              }
              throw new IOException("request body exceeds the limit of " + maxBytes + " bytes");
            }
          }
        };
  }

  @Override
  public long contentLength() {
    return body.contentLength();
  }

  @Override
  public InputStream stream() {
    return stream;
  }

  @Override
  public Headers trailers() {
    return body.trailers();
  }
}
