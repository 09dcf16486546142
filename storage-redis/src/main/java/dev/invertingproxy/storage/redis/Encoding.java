package dev.invertingproxy.storage.redis;

import dev.invertingproxy.AgentFailedException;
import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendUnavailableException;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.ProxyTimeoutException;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.StorageException;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * How heads, trailers, records and failures are stored in Redis: length-prefixed UTF-8 strings,
 * order and case of header fields kept. Versioned by a leading byte so a later format can be told
 * apart.
 */
final class Encoding {
  private static final int VERSION = 1;

  private Encoding() {}

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static String string(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  static byte[] requestHead(RequestHead head) {
    return write(
        out -> {
          writeString(out, head.method());
          writeString(out, head.target());
          writeString(out, head.version());
          writeHeaders(out, head.headers());
        });
  }

  static RequestHead requestHead(byte[] bytes) {
    return read(
        bytes,
        in -> new RequestHead(readString(in), readString(in), readString(in), readHeaders(in)));
  }

  static byte[] responseHead(ResponseHead head) {
    return write(
        out -> {
          writeString(out, head.version());
          out.writeInt(head.status());
          writeString(out, head.reason());
          writeHeaders(out, head.headers());
        });
  }

  static ResponseHead responseHead(byte[] bytes) {
    return read(
        bytes,
        in -> new ResponseHead(readString(in), in.readInt(), readString(in), readHeaders(in)));
  }

  static byte[] headers(Headers headers) {
    return write(out -> writeHeaders(out, headers));
  }

  static Headers headers(byte[] bytes) {
    return read(bytes, Encoding::readHeaders);
  }

  static byte[] record(BackendRecord record) {
    return write(
        out -> {
          writeString(out, record.id());
          writeStrings(out, record.agentIdentities());
          writeStrings(out, record.endUsers());
          writeStrings(out, record.pathPrefixes());
        });
  }

  static BackendRecord record(byte[] bytes, Instant lastUsed) {
    return read(
        bytes,
        in ->
            new BackendRecord(
                readString(in),
                new LinkedHashSet<>(readStrings(in)),
                new LinkedHashSet<>(readStrings(in)),
                readStrings(in),
                lastUsed));
  }

  /** The failure kinds a node can hand to another; anything else travels as a 502. */
  static String failureKind(InvertingProxyException failure) {
    if (failure instanceof StorageException) {
      return "storage";
    } else if (failure instanceof ProxyTimeoutException) {
      return "timeout";
    } else if (failure instanceof BackendUnavailableException) {
      return "unavailable";
    }
    return "agent";
  }

  static InvertingProxyException failure(String kind, String message) {
    return switch (kind) {
      case "storage" -> new StorageException(message);
      case "timeout" -> new ProxyTimeoutException(message);
      case "unavailable" -> new BackendUnavailableException(message);
      default -> new AgentFailedException(message);
    };
  }

  // ------------------------------------------------------------------ primitives

  private interface Writer {
    void write(DataOutputStream out) throws IOException;
  }

  private interface Reader<T> {
    T read(DataInputStream in) throws IOException;
  }

  private static byte[] write(Writer writer) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      writer.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // not thrown by in-memory streams
    }
    return bytes.toByteArray();
  }

  private static <T> T read(byte[] bytes, Reader<T> reader) {
    try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(bytes))) {
      int version = in.readUnsignedByte();
      if (version != VERSION) {
        throw new StorageException("stored value has format " + version + ", this node reads " + VERSION);
      }
      return reader.read(in);
    } catch (IOException e) {
      throw new StorageException("stored value is damaged: " + e, e);
    }
  }

  private static void writeString(DataOutputStream out, String value) throws IOException {
    byte[] bytes = utf8(value);
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  private static String readString(DataInputStream in) throws IOException {
    int length = in.readInt();
    if (length < 0 || length > in.available()) {
      throw new IOException("bad string length " + length);
    }
    byte[] bytes = new byte[length];
    in.readFully(bytes);
    return string(bytes);
  }

  private static void writeHeaders(DataOutputStream out, Headers headers) throws IOException {
    out.writeInt(headers.size());
    for (Header field : headers.fields()) {
      writeString(out, field.name());
      writeString(out, field.value());
    }
  }

  private static Headers readHeaders(DataInputStream in) throws IOException {
    int count = in.readInt();
    if (count < 0 || count > in.available()) {
      throw new IOException("bad header count " + count);
    }
    Headers.Builder builder = Headers.builder();
    for (int i = 0; i < count; i++) {
      builder.add(readString(in), readString(in));
    }
    return builder.build();
  }

  private static void writeStrings(DataOutputStream out, java.util.Collection<String> values)
      throws IOException {
    out.writeInt(values.size());
    for (String value : values instanceof Set<String> set ? new java.util.TreeSet<>(set) : values) {
      writeString(out, value);
    }
  }

  private static List<String> readStrings(DataInputStream in) throws IOException {
    int count = in.readInt();
    if (count < 0 || count > in.available()) {
      throw new IOException("bad list size " + count);
    }
    List<String> values = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      values.add(readString(in));
    }
    return values;
  }
}
