package dev.invertingproxy.storage.redis;

import dev.invertingproxy.MessageBody;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;

/**
 * The start of a body of known, small length, read without waiting for more than its first
 * bytes: either the whole body (it can travel inline, with its head) or what was read so far
 * followed by the rest of the stream.
 *
 * @param bytes the whole body when {@code whole}
 * @param whole whether {@code bytes} is all of the body
 * @param rest the body to stream when not {@code whole} (its first bytes included)
 */
record Prefetched(byte[] bytes, boolean whole, MessageBody rest) {
  private static final byte[] NONE = new byte[0];

  /** Reads the start of {@code body} if its length is known and at most {@code max} bytes. */
  static Prefetched read(MessageBody body, int max) throws IOException {
    long length = body.contentLength();
    if (length < 0 || length > max) {
      return new Prefetched(NONE, false, body);
    }
    if (length == 0) {
      return new Prefetched(NONE, true, body);
    }
    InputStream in = body.stream();
    byte[] buffer = new byte[(int) length];
    int n = in.read(buffer, 0, buffer.length); // the one read that may wait
    if (n > 0) {
      while (n < buffer.length && in.available() > 0) {
        int more = in.read(buffer, n, buffer.length - n);
        if (more <= 0) {
          break;
        }
        n += more;
      }
    }
    if (n == buffer.length) {
      return new Prefetched(buffer, true, body);
    }
    InputStream started =
        new SequenceInputStream(new ByteArrayInputStream(buffer, 0, Math.max(0, n)), in);
    return new Prefetched(NONE, false, MessageBody.of(started, length, body::trailers));
  }
}
