package dev.invertingproxy.storage.redis;

import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import dev.invertingproxy.spi.StorageProvider;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Provides {@link RedisStorage} for {@code redis://} and {@code rediss://} (TLS) URIs, in
 * Lettuce's syntax: {@code redis://[[user:]password@]host[:port][/database][?timeout=5s]}. Our own
 * query parameters are taken out before Lettuce reads the rest: {@code prefix} (key prefix, default
 * {@code ip}), {@code chunkSize} (bytes), {@code window} (chunks), {@code requestTtl} and {@code
 * nodeTimeout} (ISO-8601 durations or seconds).
 *
 * <p>This class is thread-safe.
 */
public final class RedisStorageProvider implements StorageProvider {

  /** Cheap and side-effect free, as the provider contract requires. */
  public RedisStorageProvider() {}

  @Override
  public String name() {
    return "redis";
  }

  @Override
  public Set<String> schemes() {
    return Set.of("redis", "rediss");
  }

  @Override
  public Storage create(URI uri, StorageOptions options) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
    if (!schemes().contains(scheme)) {
      throw new IllegalArgumentException("not a redis:// or rediss:// URI: " + uri);
    }
    RedisStorage.Builder builder = RedisStorage.builder().options(options);
    String text = uri.toString();
    int question = text.indexOf('?');
    List<String> kept = new ArrayList<>();
    if (question >= 0) {
      for (String pair : text.substring(question + 1).split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int equals = pair.indexOf('=');
        String name = equals < 0 ? pair : pair.substring(0, equals);
        String value =
            equals < 0 ? "" : URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
        try {
          switch (name) {
            case "prefix" -> builder.prefix(value);
            case "chunkSize" -> builder.chunkSize(Integer.parseInt(value));
            case "window" -> builder.window(Integer.parseInt(value));
            case "requestTtl" -> builder.requestTtl(duration(value));
            case "nodeTimeout" -> builder.nodeTimeout(duration(value));
            default -> kept.add(pair);
          }
        } catch (NumberFormatException | java.time.format.DateTimeParseException e) {
          throw new IllegalArgumentException("bad value for " + name + " in " + uri + ": " + value, e);
        }
      }
      text = text.substring(0, question) + (kept.isEmpty() ? "" : "?" + String.join("&", kept));
    }
    return builder.uri(text).build();
  }

  private static Duration duration(String value) {
    return value.startsWith("P") || value.startsWith("p")
        ? Duration.parse(value)
        : Duration.ofSeconds(Long.parseLong(value));
  }
}
