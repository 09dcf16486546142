package dev.invertingproxy.core.internal;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A client's request body as it streams to an agent: tells an observer when it starts and ends,
 * and stops it past a size limit (a chunked body declares no length up front).
 */
public final class ObservedBody implements MessageBody {

  /** What happens to the body. Called on the reading thread. */
  public interface Observer {
    /** The first bytes were read. */
    void started();

    /** The body was read to its end. */
    void ended();

    /** The body grew past the limit; reads fail from now on. */
    void exceeded();
  }

  private final MessageBody body;
  private final InputStream stream;

  /**
   * @param maxBytes the limit in bytes, or -1 for none
   */
  public ObservedBody(MessageBody body, long maxBytes, Observer observer) {
    this.body = body;
    this.stream =
        new FilterInputStream(body.stream()) {
          private long count;
          private boolean exceeded;
          private boolean ended;

          @Override
          public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
          }

          @Override
          public int read(byte[] buffer, int off, int len) throws IOException {
            int n = super.read(buffer, off, len);
            if (n > 0) {
              if (count == 0) {
                observer.started();
              }
              count += n;
              if (maxBytes >= 0 && count > maxBytes) {
                if (!exceeded) {
                  exceeded = true;
                  observer.exceeded();
                }
                throw new IOException("request body exceeds the limit of " + maxBytes + " bytes");
              }
            }
            if ((n < 0 || count == body.contentLength()) && !ended) {
              ended = true;
              observer.ended();
            }
            return n;
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
