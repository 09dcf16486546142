package dev.invertingproxy.core.internal;

import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.BodyTooLargeException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.MessageBody;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.jspecify.annotations.Nullable;

/**
 * A client's request body as it streams to an agent: tells an observer when it starts and ends,
 * stops it past a size limit (a chunked body declares no length up front), and tells the observer
 * when the client's side of it fails, so that a failure of the client's upload is never taken for
 * a failure of the agent that reads it.
 *
 * <p>Every failure of this stream is a {@link ClientBodyException}: the stream the client's body
 * comes from failed (malformed, cut, stalled), or the body grew past the limit.
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

    /**
     * Reading the client's body failed, for the reason {@code failure} tells (a {@link
     * dev.invertingproxy.MalformedMessageException} for a malformed body, a {@link
     * dev.invertingproxy.ClientGoneException} if the client left, ...); reads fail from now on.
     * Called once.
     */
    void failed(InvertingProxyException failure);
  }

  /**
   * The client's side of a request body failed, or the body grew past the limit: the client's
   * doing, never the reading agent's. {@link #failure()} tells why.
   */
  public static final class ClientBodyException extends IOException {
    private static final long serialVersionUID = 1L;

    private final InvertingProxyException failure;

    ClientBodyException(InvertingProxyException failure) {
      super("the client's request body failed: " + failure.getMessage(), failure);
      this.failure = failure;
    }

    /** Why the body failed, typed for {@link dev.invertingproxy.core.ErrorMapping}. */
    public InvertingProxyException failure() {
      return failure;
    }
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
          private @Nullable ClientBodyException failed;

          @Override
          public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
          }

          @Override
          public int read(byte[] buffer, int off, int len) throws IOException {
            if (failed != null) {
              throw failed;
            }
            int n;
            try {
              n = super.read(buffer, off, len);
            } catch (IOException | RuntimeException e) {
              throw failed(e);
            }
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
                throw new ClientBodyException(
                    new BodyTooLargeException(
                        "request body exceeds the limit of " + maxBytes + " bytes"));
              }
            }
            if ((n < 0 || count == body.contentLength()) && !ended) {
              ended = true;
              observer.ended();
            }
            return n;
          }

          /** The client's stream failed: typed (untyped failures become 400), told once. */
          private ClientBodyException failed(Exception e) {
            InvertingProxyException failure =
                e instanceof InvertingProxyException typed
                    ? typed
                    : new BadRequestException(
                        "the request body could not be read: " + e.getMessage(), e);
            failed = new ClientBodyException(failure);
            observer.failed(failure);
            return failed;
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
