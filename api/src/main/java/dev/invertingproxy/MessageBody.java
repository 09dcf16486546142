package dev.invertingproxy;

import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.function.Supplier;

/**
 * The body of an HTTP message as a stream that is read once, never buffered whole.
 *
 * <p>{@link #contentLength()} is the exact length when the sender declared one, or {@code -1}
 * when the body is delimited otherwise (chunked, or closed by the sender); then trailers may
 * follow and are available from {@link #trailers()} once {@link #stream()} has reached its end.
 *
 * <p>Implementations are not thread-safe: one thread reads a body at a time.
 *
 * @since 0.1
 */
public interface MessageBody extends Closeable {

  /** Returns the declared length in bytes, or {@code -1} if unknown. */
  long contentLength();

  /** Returns the body bytes (transfer coding removed). The same stream on every call. */
  InputStream stream();

  /** Returns the trailer fields; empty until the stream has been read to its end. */
  default Headers trailers() {
    return Headers.empty();
  }

  /** Releases the body; unread bytes are discarded. Idempotent. */
  @Override
  default void close() throws IOException {
    stream().close();
  }

  /** Returns an empty body of length 0. */
  static MessageBody empty() {
    return of(new byte[0]);
  }

  /** Returns a body holding {@code bytes} with a known length. */
  static MessageBody of(byte[] bytes) {
    InputStream in = new ByteArrayInputStream(bytes);
    long length = bytes.length;
    return new MessageBody() {
      @Override
      public long contentLength() {
        return length;
      }

      @Override
      public InputStream stream() {
        return in;
      }
    };
  }

  /**
   * Returns a body reading {@code stream}.
   *
   * @param contentLength the exact length, or {@code -1} if unknown
   * @param trailers supplies the trailers once the stream is at its end
   */
  static MessageBody of(InputStream stream, long contentLength, Supplier<Headers> trailers) {
    if (contentLength < -1) {
      throw new IllegalArgumentException("contentLength must be >= -1, was " + contentLength);
    }
    return new MessageBody() {
      @Override
      public long contentLength() {
        return contentLength;
      }

      @Override
      public InputStream stream() {
        return stream;
      }

      @Override
      public Headers trailers() {
        return trailers.get();
      }
    };
  }
}
