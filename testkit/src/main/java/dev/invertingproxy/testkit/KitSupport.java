package dev.invertingproxy.testkit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.TestInfo;

/** What the kits share: known gaps, capabilities, wire snippets. */
final class KitSupport {
  private KitSupport() {}

  /** Skips the running test, saying why, if the plugin lists it as a known gap. */
  static void skipIfKnownGap(String kit, Map<String, String> knownGaps, TestInfo info) {
    String method = info.getTestMethod().map(m -> m.getName()).orElse("");
    String gap = knownGaps.get(method);
    if (gap != null) {
      System.out.println("[" + kit + "] known gap, skipped: " + method + ": " + gap);
    }
    assumeTrue(gap == null, () -> "known gap: " + gap);
  }

  /** Skips the running test unless the plugin declares {@code capability}. */
  static void require(Set<Capability> capabilities, Capability capability) {
    assumeTrue(
        capabilities.contains(capability),
        () -> "the plugin does not declare " + capability + "; test skipped");
  }

  /** Returns one chunk of a chunked body: size line, data, CRLF. */
  static String chunk(String data) {
    return Integer.toHexString(data.getBytes(StandardCharsets.ISO_8859_1).length)
        + "\r\n"
        + data
        + "\r\n";
  }

  /** Parses a JSON array of strings (what {@code agent/pending} answers); null for JSON null. */
  static List<String> parseIds(String json) {
    String text = json.strip();
    if (text.isEmpty() || text.equals("null")) {
      return List.of();
    }
    if (!text.startsWith("[") || !text.endsWith("]")) {
      throw new AssertionError("not a JSON array: " + json);
    }
    List<String> ids = new ArrayList<>();
    int i = 1;
    int end = text.length() - 1;
    while (true) {
      while (i < end && Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      if (i >= end) {
        return ids;
      }
      if (text.charAt(i) != '"') {
        throw new AssertionError("not a JSON array of strings: " + json);
      }
      StringBuilder id = new StringBuilder();
      i++;
      while (text.charAt(i) != '"') {
        char c = text.charAt(i++);
        if (c == '\\') {
          char e = text.charAt(i++);
          switch (e) {
            case 'u' -> {
              id.append((char) Integer.parseInt(text.substring(i, i + 4), 16));
              i += 4;
            }
            case 'n' -> id.append('\n');
            case 't' -> id.append('\t');
            case 'r' -> id.append('\r');
            case 'b' -> id.append('\b');
            case 'f' -> id.append('\f');
            default -> id.append(e);
          }
        } else {
          id.append(c);
        }
      }
      ids.add(id.toString());
      i++;
      while (i < end && Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      if (i < end) {
        if (text.charAt(i) != ',') {
          throw new AssertionError("not a JSON array of strings: " + json);
        }
        i++;
      }
    }
  }

  /**
   * A body source the test feeds piece by piece from its own thread, so it can tell whether a
   * transport sends bytes while they are produced. {@link #available()} is 0 while nothing is
   * queued, which is when a streaming copier flushes.
   */
  static final class FeedStream extends InputStream {
    private static final byte[] END = new byte[0];
    private final LinkedBlockingQueue<byte[]> queue = new LinkedBlockingQueue<>();
    private byte[] current = new byte[0];
    private int pos;
    private boolean ended;

    void feed(String text) {
      queue.add(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    void end() {
      queue.add(END);
    }

    private boolean fill() throws IOException {
      while (!ended && pos == current.length) {
        byte[] next;
        try {
          next = queue.poll(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while waiting for the test to feed the body", e);
        }
        if (next == null) {
          throw new IOException("the test fed no body bytes within 20 s");
        }
        if (next == END) {
          ended = true;
        } else {
          current = next;
          pos = 0;
        }
      }
      return !ended || pos < current.length;
    }

    @Override
    public int read() throws IOException {
      if (!fill()) {
        return -1;
      }
      return current[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (!fill()) {
        return -1;
      }
      int n = Math.min(len, current.length - pos);
      System.arraycopy(current, pos, b, off, n);
      pos += n;
      return n;
    }

    @Override
    public int available() {
      return current.length - pos;
    }
  }
}
