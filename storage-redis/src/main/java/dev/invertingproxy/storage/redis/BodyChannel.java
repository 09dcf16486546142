package dev.invertingproxy.storage.redis;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.StorageException;
import io.lettuce.core.ScriptOutputType;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Arrays;
import java.util.List;

/**
 * A body crossing Redis in chunks: a list per body and direction, at most {@code window} chunks
 * long, so memory stays bounded in Redis and on both nodes. The writer pushes while there is room
 * and waits for the reader's "room" signal; the reader pops and waits for the writer's "data"
 * signal. A chunk is a type byte and its payload: {@code D} data, {@code E} end (payload: the
 * trailers), {@code F} failure (payload: the reason).
 *
 * <p>Waits are woken by signals; every {@code livenessCheckMillis} a waiting side also checks that
 * the other side's node is alive, so a node that died does not leave the other waiting for ever.
 */
final class BodyChannel {
  static final byte DATA = 'D';
  static final byte END = 'E';
  static final byte FAILURE = 'F';

  private final Redis redis;
  private final Signals signals;
  private final int window;
  private final long ttlMillis;
  private final long livenessCheckMillis;

  BodyChannel(Redis redis, Signals signals, int window, long ttlMillis, long livenessCheckMillis) {
    this.redis = redis;
    this.signals = signals;
    this.window = window;
    this.ttlMillis = ttlMillis;
    this.livenessCheckMillis = livenessCheckMillis;
  }

  /** Why a push stopped: the exchange ended on the other side (cancelled, answered, client gone). */
  static final class Ended extends IOException {
    private static final long serialVersionUID = 1L;

    Ended(String message) {
      super(message);
    }
  }

  /** The peer on the other side of a list is gone (its node died). */
  static final class PeerGone extends IOException {
    private static final long serialVersionUID = 1L;

    PeerGone(String message) {
      super(message);
    }
  }

  // ------------------------------------------------------------------ writing

  /**
   * Copies {@code body} into {@code list}, ending with an end or failure chunk.
   *
   * @param readerField the request field naming the reading node ({@code rn} or {@code o})
   * @param chunkSize the largest chunk
   * @throws Ended if the exchange ended on the other side
   * @throws PeerGone if the reader's node died
   * @throws IOException if reading {@code body} failed (a failure chunk was sent)
   */
  void copy(String requestKey, String list, String readerField, MessageBody body, int chunkSize)
      throws IOException {
    Signals.Wakeup wakeup = new Signals.Wakeup();
    try (Signals.Registration ignored = signals.watch(list, wakeup)) {
      byte[] buffer = new byte[chunkSize];
      InputStream in = body.stream();
      while (true) {
        int n;
        try {
          n = fill(in, buffer);
        } catch (IOException e) {
          push(requestKey, list, readerField, chunk(FAILURE, Encoding.utf8(String.valueOf(e.getMessage()))), wakeup);
          throw e;
        }
        if (n < 0) {
          push(requestKey, list, readerField, chunk(END, Encoding.headers(body.trailers())), wakeup);
          return;
        }
        if (n > 0) {
          push(requestKey, list, readerField, chunk(DATA, buffer, n), wakeup);
        }
      }
    }
  }

  /**
   * Reads at least one byte (or the end), then whatever more is already there, up to the buffer's
   * size: few, large chunks for a fast stream, no added wait for a slow one (flushed bytes go on at
   * once).
   */
  private static int fill(InputStream in, byte[] buffer) throws IOException {
    int n = in.read(buffer, 0, buffer.length);
    if (n <= 0) {
      return n;
    }
    while (n < buffer.length && in.available() > 0) {
      int more = in.read(buffer, n, buffer.length - n);
      if (more <= 0) {
        break; // the end: reported by the next read
      }
      n += more;
    }
    return n;
  }

  /** Sends a failure chunk if there is room; best effort. */
  void fail(String requestKey, String list, String readerField, String reason) {
    try {
      redis.eval(
          Scripts.PUSH,
          ScriptOutputType.INTEGER,
          new String[] {requestKey, list},
          chunk(FAILURE, Encoding.utf8(reason)),
          Redis.bytes(window + 1), // a failure may exceed the window by one
          Redis.bytes(ttlMillis),
          Redis.bytes(readerField));
    } catch (StorageException ignored) {
      // the reader finds out by its liveness check
    }
  }

  private void push(
      String requestKey, String list, String readerField, byte[] chunk, Signals.Wakeup wakeup)
      throws IOException {
    while (true) {
      Long result =
          redis.eval(
              Scripts.PUSH,
              ScriptOutputType.INTEGER,
              new String[] {requestKey, list},
              chunk,
              Redis.bytes(window),
              Redis.bytes(ttlMillis),
              Redis.bytes(readerField));
      if (result == 1) {
        return;
      } else if (result < 0) {
        throw new Ended("the exchange ended on the other side");
      }
      if (!await(wakeup)) {
        requirePeer(requestKey, readerField, "the proxy node reading this body left");
      }
    }
  }

  // ------------------------------------------------------------------ reading

  /**
   * Returns a body reading {@code list}.
   *
   * @param generation the claim generation that may read it, or {@code ""} for any
   * @param writerField the request field naming the writing node ({@code o} or {@code wn})
   */
  MessageBody reader(
      String requestKey, String list, String generation, String writerField, long contentLength) {
    ChunkInputStream in = new ChunkInputStream(requestKey, list, generation, writerField);
    return new MessageBody() {
      @Override
      public long contentLength() {
        return contentLength;
      }

      @Override
      public InputStream stream() {
        return in;
      }

      @Override
      public Headers trailers() {
        return in.trailers;
      }
    };
  }

  private final class ChunkInputStream extends InputStream {
    private final String requestKey;
    private final String list;
    private final String generation;
    private final String writerField;
    private final Signals.Wakeup wakeup = new Signals.Wakeup();
    private Signals.Registration registration;
    private byte[] current = new byte[0];
    private int position = 1; // chunk payloads start after the type byte
    private boolean ended;
    private volatile Headers trailers = Headers.empty();

    ChunkInputStream(String requestKey, String list, String generation, String writerField) {
      this.requestKey = requestKey;
      this.list = list;
      this.generation = generation;
      this.writerField = writerField;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public synchronized int read(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return 0;
      }
      while (position >= current.length) {
        if (ended) {
          return -1;
        }
        next();
      }
      int n = Math.min(len, current.length - position);
      System.arraycopy(current, position, b, off, n);
      position += n;
      return n;
    }

    @Override
    public synchronized int available() {
      return Math.max(0, current.length - position);
    }

    @Override
    public synchronized void close() {
      ended = true;
      current = new byte[0];
      position = 1;
      unwatch();
    }

    private void next() throws IOException {
      if (registration == null) {
        registration = signals.watch(list, wakeup);
      }
      while (true) {
        List<Object> result;
        try {
          result =
              redis.eval(
                  Scripts.TAKE,
                  ScriptOutputType.MULTI,
                  new String[] {requestKey, list},
                  Redis.bytes(generation),
                  Redis.bytes(writerField),
                  Redis.bytes(window),
                  Redis.bytes(ttlMillis));
        } catch (StorageException e) {
          throw new IOException(e.getMessage(), e);
        }
        String outcome = Encoding.string((byte[]) result.get(0));
        switch (outcome) {
          case "data" -> {
            byte[] chunk = (byte[]) result.get(1);
            if (chunk.length == 0) {
              throw new IOException("empty chunk in " + list);
            }
            switch (chunk[0]) {
              case DATA -> {
                current = chunk;
                position = 1;
              }
              case END -> {
                trailers =
                    chunk.length > 1
                        ? Encoding.headers(Arrays.copyOfRange(chunk, 1, chunk.length))
                        : Headers.empty();
                ended = true;
                current = new byte[0];
                position = 1;
                unwatch();
              }
              default -> {
                unwatch();
                throw new IOException(
                    "the body broke on the sending side: "
                        + Encoding.string(Arrays.copyOfRange(chunk, 1, chunk.length)));
              }
            }
            return;
          }
          case "empty" -> {
            if (!await(wakeup)) {
              requirePeer(requestKey, writerField, "the proxy node sending this body left");
            }
          }
          case "stale" -> throw new IOException("request was claimed again by a newer read");
          default -> throw new Ended("the exchange ended (cancelled, answered or its client left)");
        }
      }
    }

    private void unwatch() {
      if (registration != null) {
        registration.close();
        registration = null;
      }
    }
  }

  // ------------------------------------------------------------------ shared

  private boolean await(Signals.Wakeup wakeup) throws IOException {
    try {
      return wakeup.await(livenessCheckMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the other side");
    }
  }

  /** Throws if the node named by {@code field} of the request is no longer alive. */
  void requirePeer(String requestKey, String field, String message) throws IOException {
    try {
      byte[] peer = redis.call(() -> redis.commands().hget(requestKey, field));
      if (peer == null) {
        return; // not known yet (no reader has claimed): nothing to check
      }
      Long alive = redis.call(() -> redis.commands().exists(redis.alive(Encoding.string(peer))));
      if (alive == null || alive == 0) {
        throw new PeerGone(message + " (" + Encoding.string(peer) + ")");
      }
    } catch (StorageException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  static byte[] chunk(byte type, byte[] payload) {
    return chunk(type, payload, payload.length);
  }

  static byte[] chunk(byte type, byte[] payload, int length) {
    byte[] chunk = new byte[length + 1];
    chunk[0] = type;
    System.arraycopy(payload, 0, chunk, 1, length);
    return chunk;
  }
}
