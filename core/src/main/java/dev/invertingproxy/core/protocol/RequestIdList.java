package dev.invertingproxy.core.protocol;

import com.squareup.moshi.JsonDataException;
import com.squareup.moshi.JsonEncodingException;
import com.squareup.moshi.JsonReader;
import com.squareup.moshi.JsonWriter;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import okio.Buffer;
import okio.BufferedSource;
import okio.Okio;

/**
 * The body of the ID-list answers ({@code agent/pending}, {@code agent/cancelled}): a JSON array
 * of request IDs. Read leniently as the reference agent reads it: empty or white space, or JSON
 * {@code null}, mean no IDs.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class RequestIdList {
  /** The most bytes read from an ID-list answer. */
  public static final int MAX_BYTES = 1024 * 1024;

  private RequestIdList() {}

  /** Returns {@code ids} as a JSON array, UTF-8. */
  public static byte[] encode(List<String> ids) {
    Buffer buffer = new Buffer();
    try (JsonWriter writer = JsonWriter.of(buffer)) {
      writer.beginArray();
      for (String id : ids) {
        writer.value(id);
      }
      writer.endArray();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory cannot fail", e);
    }
    return buffer.readByteArray();
  }

  /**
   * Reads an ID list of at most {@link #MAX_BYTES}; {@code what} names the call in the messages.
   *
   * @throws IOException if the body is larger, is not a JSON array of strings (or null), or cannot
   *     be read
   */
  public static List<String> decode(InputStream body, String what) throws IOException {
    Buffer buffer = readLimited(Okio.buffer(Okio.source(body)), MAX_BYTES, what);
    if (isBlank(buffer)) {
      return List.of();
    }
    try (JsonReader reader = JsonReader.of(buffer)) {
      JsonReader.Token token = reader.peek();
      List<String> ids;
      if (token == JsonReader.Token.NULL) {
        reader.nextNull();
        ids = List.of();
      } else if (token == JsonReader.Token.BEGIN_ARRAY) {
        ids = new ArrayList<>();
        reader.beginArray();
        while (reader.hasNext()) {
          if (reader.peek() != JsonReader.Token.STRING) {
            throw new IOException(
                what
                    + ": expected a JSON array of strings, found "
                    + reader.peek()
                    + " at "
                    + reader.getPath());
          }
          ids.add(reader.nextString());
        }
        reader.endArray();
      } else {
        throw new IOException(what + ": expected a JSON array of strings or null, found " + token);
      }
      if (reader.peek() != JsonReader.Token.END_DOCUMENT) {
        throw new IOException(what + ": unexpected data after the JSON value");
      }
      return ids.isEmpty() ? List.of() : List.copyOf(ids);
    } catch (JsonDataException | JsonEncodingException | EOFException e) {
      throw new IOException(what + ": malformed JSON: " + e.getMessage(), e);
    }
  }

  private static Buffer readLimited(BufferedSource source, long limit, String what)
      throws IOException {
    Buffer buffer = new Buffer();
    while (buffer.size() <= limit) {
      if (source.read(buffer, limit + 1 - buffer.size()) == -1) {
        return buffer;
      }
    }
    throw new IOException(what + ": the proxy's answer exceeds " + limit + " bytes");
  }

  private static boolean isBlank(Buffer body) {
    for (long i = 0; i < body.size(); i++) {
      byte b = body.getByte(i);
      if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
        return false;
      }
    }
    return true;
  }
}
