package dev.invertingproxy.core.internal.wire;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Random;

/** Streams and helpers shared by the wire tests. */
final class WireTestSupport {
  private WireTestSupport() {}

  /** Returns the ISO-8859-1 bytes of {@code s}: one byte per char, as on the wire. */
  static byte[] bytes(String s) {
    return s.getBytes(ISO_8859_1);
  }

  static String latin1(byte[] bytes) {
    return new String(bytes, ISO_8859_1);
  }

  /** Reads {@code in} to its end with reads of varying size. */
  static byte[] readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[3000];
    int n;
    while ((n = in.read(buffer)) >= 0) {
      out.write(buffer, 0, n);
    }
    return out.toByteArray();
  }

  /** Returns {@code size} pseudo-random bytes from {@code seed}. */
  static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  /**
   * Serves a byte array in reads of 1 to {@code maxRead} bytes (pseudo-random from {@code seed}),
   * the way a network stream delivers data; {@link #available()} reports 0, as a socket may.
   */
  static final class ChoppedInputStream extends InputStream {
    private final byte[] data;
    private final int maxRead;
    private final Random random;
    private int pos;

    ChoppedInputStream(byte[] data, int maxRead, long seed) {
      this.data = data;
      this.maxRead = maxRead;
      this.random = new Random(seed);
    }

    @Override
    public int read() {
      return pos < data.length ? data[pos++] & 0xFF : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (len == 0) {
        return 0;
      }
      if (pos == data.length) {
        return -1;
      }
      int n = Math.min(Math.min(len, data.length - pos), 1 + random.nextInt(maxRead));
      System.arraycopy(data, pos, b, off, n);
      pos += n;
      return n;
    }

    /** Returns how many bytes were consumed. */
    int position() {
      return pos;
    }
  }

  /** Serves {@code data} once, then fails the test on any further read. */
  static final class ExactInputStream extends InputStream {
    private final byte[] data;
    private int pos;
    boolean closed;

    ExactInputStream(byte[] data) {
      this.data = data;
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (pos == data.length) {
        throw new AssertionError("read past the end of the message");
      }
      int n = Math.min(len, data.length - pos);
      System.arraycopy(data, pos, b, off, n);
      pos += n;
      return n;
    }

    @Override
    public void close() {
      closed = true;
    }
  }
}
