package dev.invertingproxy.storage.redis;

import dev.invertingproxy.MessageBody;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;

/**
 * A body of known, small length that is already all there (nothing to wait for), taken whole so
 * it can travel inline with its head; any other body is left to stream.
 *
 * @param bytes the whole body when {@code whole}
 * @param whole whether {@code bytes} is all of the body
 * @param rest the body to stream when not {@code whole}
 */
record Prefetched(byte[] bytes, boolean whole, MessageBody rest) {
  private static final byte[] NONE = new byte[0];

  /**
   * Takes {@code body} whole if its length is known, at most {@code max} bytes, and all of it can
   * be read without waiting; never blocks otherwise (the head must not wait for the body).
   */
  static Prefetched read(MessageBody body, int max) {
    long length = body.contentLength();
    if (length < 0 || length > max) {
      return new Prefetched(NONE, false, body);
    }
    if (length == 0) {
      return new Prefetched(NONE, true, body);
    }
    InputStream in = body.stream();
    try {
      if (in.available() < length) {
        return new Prefetched(NONE, false, body);
      }
      byte[] bytes = in.readNBytes((int) length); // all there: no wait
      if (bytes.length == length) {
        return new Prefetched(bytes, true, body);
      }
      // available() promised more than came: stream what did, then the stream's own end
      InputStream started = new SequenceInputStream(new ByteArrayInputStream(bytes), in);
      return new Prefetched(NONE, false, MessageBody.of(started, length, body::trailers));
    } catch (IOException e) {
      // Let the stream report it where a streamed body reports failures (a cut response).
      return new Prefetched(NONE, false, MessageBody.of(failing(e, in), length, body::trailers));
    }
  }

  private static InputStream failing(IOException failure, InputStream original) {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        throw failure;
      }

      @Override
      public void close() throws IOException {
        original.close();
      }
    };
  }
}
