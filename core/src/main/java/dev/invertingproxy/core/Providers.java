package dev.invertingproxy.core;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.ProviderNotFoundException;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.AgentTransportProvider;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import dev.invertingproxy.spi.StorageProvider;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;
import org.jspecify.annotations.Nullable;

/**
 * Finds plugins with {@link ServiceLoader}: a {@link StorageProvider} by URI scheme and the
 * {@link AgentTransportProvider}. A provider that fails to load is logged and skipped; among
 * several the highest {@code priority()} wins. Everything found here can also be passed in
 * explicitly (tests, DI containers, shaded jars).
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class Providers {
  private static final System.Logger LOGGER = System.getLogger(Providers.class.getName());

  /** The artifact that serves each known scheme, named when none is on the class path. */
  private static final Map<String, String> ARTIFACT_BY_SCHEME =
      Map.of(
          "memory", "dev.invertingproxy:inverting-proxy-storage-inmemory",
          "redis", "dev.invertingproxy:inverting-proxy-storage-redis",
          "rediss", "dev.invertingproxy:inverting-proxy-storage-redis");

  private static final String TRANSPORT_ARTIFACT =
      "dev.invertingproxy:inverting-proxy-transport-okhttp";

  private Providers() {}

  /**
   * Parses a storage URI as users write it: {@code memory:}, {@code redis://host:6379/0}. A bare
   * {@code scheme:} (not a valid {@link URI} on its own) is read as {@code scheme:/}.
   *
   * @throws IllegalArgumentException if it is not a URI with a scheme
   */
  public static URI storageUri(String text) {
    String trimmed = text.trim();
    URI uri = URI.create(trimmed.endsWith(":") ? trimmed + "/" : trimmed);
    if (uri.getScheme() == null) {
      throw new IllegalArgumentException(
          "storage URI needs a scheme such as memory: or redis://, was '" + text + "'");
    }
    return uri;
  }

  /** Returns the storage provider for {@code uri}'s scheme, using this class's loader. */
  public static StorageProvider storageProvider(URI uri) {
    return storageProvider(uri, Providers.class.getClassLoader());
  }

  /**
   * Returns the storage provider for {@code uri}'s scheme.
   *
   * @throws ProviderNotFoundException if none is available; the message names the artifact
   */
  public static StorageProvider storageProvider(URI uri, ClassLoader loader) {
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    List<StorageProvider> candidates = new ArrayList<>();
    for (StorageProvider provider : load(StorageProvider.class, loader)) {
      if (provider.schemes().contains(scheme)) {
        candidates.add(provider);
      }
    }
    StorageProvider chosen = best(
            candidates,
            StorageProvider::isAvailable,
            StorageProvider::priority,
            StorageProvider::name);
    if (chosen == null) {
      String artifact = ARTIFACT_BY_SCHEME.get(scheme);
      throw new ProviderNotFoundException(
          "no storage provider for the URI scheme '"
              + scheme
              + "' ("
              + uri
              + ")"
              + (artifact == null
                  ? "; known schemes: memory:, redis://, rediss://"
                  : "; add the artifact " + artifact + " to the class path"));
    }
    return chosen;
  }

  /** Opens the storage for {@code uri}; the caller closes it. */
  public static Storage openStorage(URI uri, StorageOptions options) {
    return storageProvider(uri).create(uri, options);
  }

  /** Returns the agent transport provider with the highest priority. */
  public static AgentTransportProvider agentTransportProvider(ClassLoader loader) {
    AgentTransportProvider chosen =
        best(
            load(AgentTransportProvider.class, loader),
            AgentTransportProvider::isAvailable,
            AgentTransportProvider::priority,
            AgentTransportProvider::name);
    if (chosen == null) {
      throw new ProviderNotFoundException(
          "no agent transport found; add the artifact " + TRANSPORT_ARTIFACT + " to the class path");
    }
    return chosen;
  }

  /** Creates an agent transport with the discovered provider; the caller closes it. */
  public static AgentTransport openAgentTransport(AgentConfig config) {
    return agentTransportProvider(Providers.class.getClassLoader()).create(config);
  }

  private static <T> List<T> load(Class<T> type, ClassLoader loader) {
    List<T> found = new ArrayList<>();
    Iterator<T> it = ServiceLoader.load(type, loader).iterator();
    while (true) {
      try {
        if (!it.hasNext()) {
          break;
        }
        T provider = it.next();
        found.add(provider);
      } catch (ServiceConfigurationError e) {
        LOGGER.log(Level.WARNING, "skipping a " + type.getSimpleName() + " that failed to load", e);
      }
    }
    return found;
  }

  private static <T> @Nullable T best(
      List<T> candidates,
      Predicate<T> isAvailable,
      ToIntFunction<T> priority,
      Function<T, String> name) {
    List<T> available = new ArrayList<>();
    for (T candidate : candidates) {
      try {
        if (isAvailable.test(candidate)) {
          available.add(candidate);
        }
      } catch (RuntimeException e) {
        LOGGER.log(Level.WARNING, "skipping provider " + name.apply(candidate), e);
      }
    }
    if (available.isEmpty()) {
      return null;
    }
    available.sort(Comparator.comparingInt(priority).reversed());
    if (available.size() > 1) {
      LOGGER.log(
          Level.INFO,
          () ->
              "several providers compete; chose "
                  + name.apply(available.get(0))
                  + " of "
                  + available.stream().map(name).toList());
    }
    return available.get(0);
  }
}
