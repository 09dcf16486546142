package dev.invertingproxy.storage.redis;

import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.spi.Storage;
import dev.invertingproxy.spi.StorageOptions;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Storage in Redis: many proxy nodes that use the same Redis (and {@linkplain Builder#prefix
 * prefix}) share one registry and one broker, so a client may reach node A while the agent polls
 * node B. Each node keeps one command connection and one pub/sub connection, whatever the load.
 *
 * <pre>{@code
 * try (RedisStorage storage = RedisStorage.builder().uri("redis://127.0.0.1:6379").build()) {
 *   ProxyEngine engine = ProxyEngine.builder().storage(storage)...build();
 * }
 * }</pre>
 *
 * <p>What lives in Redis, and what is lost when Redis loses its data, is described in
 * docs/architecture.md ("Redis storage"). Needs one Redis server (a primary, optionally managed by
 * Sentinel), not Redis Cluster.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class RedisStorage implements Storage {
  private static final Logger LOGGER = System.getLogger(RedisStorage.class.getName());

  /** Tunables; see the builder for defaults. */
  record Settings(
      String prefix,
      int chunkSize,
      int window,
      Duration requestTtl,
      Duration livenessCheck,
      Duration nodeTimeout,
      int maxStreams) {}

  private final Settings settings;
  private final RedisClient client;
  private final boolean ownsClient;
  private final @Nullable ClientResources ownedResources;
  private final StatefulRedisConnection<String, byte[]> connection;
  private final StatefulRedisPubSubConnection<String, String> pubsub;
  private final RedisConnectionStateListener reconnects;
  private final Redis redis;
  private final Signals signals = new Signals();
  private final ScheduledExecutorService timer;
  private final ExecutorService events;
  private final ThreadPoolExecutor streams;
  private final ThreadPoolExecutor handoff;
  private final RedisBroker broker;
  private final RedisRegistry registry;
  private final ScheduledFuture<?> heartbeat;
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Threads that complete long polls (each completion may run a claim: one Redis round trip). */
  static final int HANDOFF_THREADS = 16;

  private RedisStorage(Builder builder) {
    this.settings =
        new Settings(
            builder.prefix,
            builder.chunkSize,
            builder.window,
            builder.requestTtl,
            builder.livenessCheck,
            builder.nodeTimeout,
            builder.maxStreams);
    RedisURI uri = builder.redisUri();
    if (builder.client != null) {
      this.client = builder.client;
      this.ownsClient = false;
      this.ownedResources = null;
    } else {
      this.ownedResources =
          builder.resources == null
              ? ClientResources.builder()
                  // after Redis comes back, serve again within ~2 s (Lettuce's default waits up to 30 s)
                  .reconnectDelay(
                      Delay.exponential(Duration.ofMillis(50), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                  .build()
              : null;
      this.client =
          RedisClient.create(builder.resources != null ? builder.resources : ownedResources, uri);
      this.ownsClient = true;
      client.setOptions(
          ClientOptions.builder()
              .autoReconnect(true)
              // While Redis is down, fail at once (503 with a reason) instead of queueing.
              .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
              .timeoutOptions(TimeoutOptions.enabled(builder.commandTimeout))
              .build());
    }
    String node = newNodeId();
    this.timer = Executors.newSingleThreadScheduledExecutor(daemon("ip-redis-timer"));
    this.events = Executors.newFixedThreadPool(2, daemon("ip-redis-events"));
    this.streams =
        new ThreadPoolExecutor(
            settings.maxStreams(),
            settings.maxStreams(),
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            daemon("ip-redis-stream"));
    streams.allowCoreThreadTimeOut(true);
    // Completes long polls with their IDs (the engine claims on this thread); beyond its threads,
    // the drain completes them itself.
    this.handoff =
        new ThreadPoolExecutor(
            0, HANDOFF_THREADS, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), daemon("ip-redis-handoff"));
    StatefulRedisConnection<String, byte[]> commands = null;
    StatefulRedisPubSubConnection<String, String> subscription = null;
    try {
      commands = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE), uri);
      this.redis = new Redis(commands, settings.prefix(), node);
      subscription = client.connectPubSub(StringCodec.UTF8, uri);
      subscription.addListener(
          new RedisPubSubAdapter<>() {
            @Override
            public void message(String channel, String message) {
              dispatch(channel, message);
            }
          });
      subscription
          .sync()
          .subscribe(
              redis.nodeChannel(node),
              redis.pendingChannel(),
              redis.cancelChannel(),
              redis.registryChannel(),
              redis.leftChannel());
      beat();
    } catch (RedisException e) {
      if (commands != null) {
        commands.close();
      }
      if (subscription != null) {
        subscription.close();
      }
      shutDownThreads();
      shutDownClient();
      throw new StorageException("cannot reach Redis at " + describe(uri) + ": " + e.getMessage(), e);
    }
    this.connection = commands;
    this.pubsub = subscription;
    this.registry = new RedisRegistry(redis, signals, builder.registryCacheTtl);
    this.broker =
        new RedisBroker(redis, signals, builder.options, settings, timer, events, streams, handoff);
    long beatMillis = Math.max(100, settings.nodeTimeout().toMillis() / 4);
    this.heartbeat =
        timer.scheduleAtFixedRate(this::beatQuietly, beatMillis, beatMillis, TimeUnit.MILLISECONDS);
    StatefulRedisPubSubConnection<String, String> watched = subscription;
    StatefulRedisConnection<String, byte[]> watchedCommands = commands;
    this.reconnects =
        new RedisConnectionStateListener() {
          @Override
          public void onRedisConnected(RedisChannelHandler<?, ?> handler, SocketAddress address) {
            if (handler == watched || handler == watchedCommands) {
              onReconnect();
            }
          }

          @Override
          public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
            if (handler == watchedCommands && !closed.get()) {
              // Waiting polls would not hear of new work: end them with 503 so agents come back
              // (and are seen as live again) once Redis is.
              broker.failWaiting(new StorageException("the storage (Redis) connection was lost"));
            }
          }
        };
    client.addListener(reconnects);
  }

  /** Returns a builder. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public BackendRegistry registry() {
    return registry;
  }

  @Override
  public RequestBroker broker() {
    return broker;
  }

  /** Returns this node's ID, as other nodes see it in Redis. */
  public String nodeId() {
    return redis.node;
  }

  /** How many client requests this node holds right now (a metric; tests check nothing leaks). */
  public int heldRequests() {
    return broker.ownedCount();
  }

  /** How many Redis keys this node waits for right now (tests check nothing leaks). */
  int watchedKeys() {
    return signals.watchedKeys();
  }

  // ------------------------------------------------------------------ internals

  private void dispatch(String channel, String message) {
    // Lettuce calls this on its event loop: hand over, never block it.
    try {
      events.execute(
          () -> {
            if (channel.equals(redis.pendingChannel())) {
              signals.fire(redis.queue(message));
            } else if (channel.equals(redis.cancelChannel())) {
              signals.fire(redis.cancelNotices(message));
            } else if (channel.equals(redis.registryChannel())) {
              signals.fire(redis.backends());
            } else if (channel.equals(redis.leftChannel())) {
              RedisRegistry records = registry; // null while the storage is being built
              if (records != null) {
                records.announcedLeave(message);
              }
            } else {
              signals.fire(message);
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // shutting down
    }
  }

  /** After a reconnect: announce this node again and let every waiter look (messages may be lost). */
  private void onReconnect() {
    if (closed.get()) {
      return;
    }
    try {
      timer.execute(this::beatQuietly);
      // Once now, and once more after the subscription has surely been restored.
      events.execute(signals::fireAll);
      timer.schedule(() -> events.execute(signals::fireAll), 1, TimeUnit.SECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // shutting down
    }
  }

  private void beat() {
    redis.call(
        () ->
            redis.commands()
                .set(redis.alive(redis.node), Redis.bytes("1"), SetArgs.Builder.px(settings.nodeTimeout().toMillis())));
  }

  private void beatQuietly() {
    try {
      beat();
      broker.renewLeases();
    } catch (RuntimeException e) {
      LOGGER.log(Level.DEBUG, () -> "heartbeat failed: " + e.getMessage());
    }
  }

  /**
   * Fails the requests this node holds, ends its waiting polls, removes its heartbeat and closes
   * what it created (not an injected client). Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    heartbeat.cancel(false);
    broker.close();
    try {
      redis.call(() -> redis.commands().del(redis.alive(redis.node)));
    } catch (StorageException e) {
      LOGGER.log(Level.DEBUG, () -> "could not remove the heartbeat: " + e.getMessage());
    }
    client.removeListener(reconnects);
    pubsub.close();
    connection.close();
    shutDownThreads();
    shutDownClient();
  }

  private void shutDownThreads() {
    timer.shutdownNow();
    events.shutdownNow();
    streams.shutdownNow();
    handoff.shutdownNow();
  }

  private void shutDownClient() {
    if (ownsClient) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    if (ownedResources != null) {
      ownedResources.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  /** The server's address, never its credentials. */
  private static String describe(RedisURI uri) {
    return (uri.isSsl() ? "rediss://" : "redis://") + uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase();
  }

  private static String newNodeId() {
    byte[] bytes = new byte[8];
    new SecureRandom().nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  private static ThreadFactory daemon(String name) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  /**
   * Builds a {@link RedisStorage}.
   *
   * <p>This class is not thread-safe.
   */
  public static final class Builder {
    private @Nullable String uri;
    private @Nullable RedisURI redisUri;
    private @Nullable RedisClient client;
    private @Nullable ClientResources resources;
    private StorageOptions options = StorageOptions.defaults();
    private String prefix = "ip";
    private int chunkSize = 64 * 1024;
    private int window = 4;
    private Duration requestTtl = Duration.ofMinutes(10);
    private Duration livenessCheck = Duration.ofSeconds(2);
    private Duration registryCacheTtl = Duration.ofSeconds(1);
    private Duration nodeTimeout = Duration.ofSeconds(10);
    private Duration commandTimeout = Duration.ofSeconds(5);
    private int maxStreams = 512;

    private Builder() {}

    /**
     * The server: {@code redis://[[user:]password@]host[:port][/database]} or {@code rediss://}
     * for TLS (Lettuce's URI syntax; {@code ?timeout=} too).
     */
    public Builder uri(String redisUri) {
      this.uri = Objects.requireNonNull(redisUri, "redisUri");
      this.redisUri = null;
      return this;
    }

    /** The server, as a Lettuce URI. */
    public Builder uri(RedisURI redisUri) {
      this.redisUri = Objects.requireNonNull(redisUri, "redisUri");
      this.uri = null;
      return this;
    }

    /**
     * Uses a client the host application already has (its options apply; {@code
     * DisconnectedBehavior.REJECT_COMMANDS} is recommended so requests fail fast while Redis is
     * down). The storage does not shut it down.
     */
    public Builder client(RedisClient existing) {
      this.client = Objects.requireNonNull(existing, "existing");
      return this;
    }

    /** Shares the host application's Lettuce resources (event loops); not shut down by the storage. */
    public Builder resources(ClientResources shared) {
      this.resources = Objects.requireNonNull(shared, "shared");
      return this;
    }

    public Builder options(StorageOptions storageOptions) {
      this.options = Objects.requireNonNull(storageOptions, "storageOptions");
      return this;
    }

    /** The key prefix; nodes share state only with nodes of the same prefix. Default {@code ip}. */
    public Builder prefix(String keyPrefix) {
      if (keyPrefix.isEmpty() || keyPrefix.contains(" ")) {
        throw new IllegalArgumentException("prefix must be non-empty without spaces: " + keyPrefix);
      }
      this.prefix = keyPrefix;
      return this;
    }

    /** The largest body chunk stored in Redis; default 64 KiB. */
    public Builder chunkSize(int bytes) {
      if (bytes < 1 || bytes > 16 * 1024 * 1024) {
        throw new IllegalArgumentException("chunkSize must be 1 B to 16 MiB, was " + bytes);
      }
      this.chunkSize = bytes;
      return this;
    }

    /**
     * How many chunks of one body may wait in Redis before the writer waits for the reader;
     * default 4 (so at most 4 × chunk size per body and direction).
     */
    public Builder window(int chunks) {
      if (chunks < 1) {
        throw new IllegalArgumentException("window must be >= 1, was " + chunks);
      }
      this.window = chunks;
      return this;
    }

    /**
     * How long a request and its bodies stay in Redis without activity (its node renews it while
     * the client waits); default 10 min.
     */
    public Builder requestTtl(Duration ttl) {
      this.requestTtl = positive(ttl, "requestTtl");
      return this;
    }

    /**
     * After how long without a heartbeat a node counts as dead (its clients' requests are
     * withdrawn, streams to it are cut); default 10 s.
     */
    public Builder nodeTimeout(Duration timeout) {
      this.nodeTimeout = positive(timeout, "nodeTimeout");
      return this;
    }

    /**
     * How long a node reuses the backend records it read; default 1 s, {@link Duration#ZERO} to
     * read them on every use. A put or delete on any node is announced and drops every node's copy
     * at once; this bounds how stale a copy can be if that message is lost.
     */
    public Builder registryCacheTtl(Duration ttl) {
      Objects.requireNonNull(ttl, "ttl");
      if (ttl.isNegative()) {
        throw new IllegalArgumentException("registryCacheTtl must not be negative, was " + ttl);
      }
      this.registryCacheTtl = ttl;
      return this;
    }

    /** How often a side waiting for a body checks that the other side's node lives; default 2 s. */
    public Builder livenessCheck(Duration interval) {
      this.livenessCheck = positive(interval, "livenessCheck");
      return this;
    }

    /** Bound on one Redis command (for a client this builder creates); default 5 s. */
    public Builder commandTimeout(Duration timeout) {
      this.commandTimeout = positive(timeout, "commandTimeout");
      return this;
    }

    /**
     * How many bodies this node streams at once (threads that copy a client's upload into Redis
     * or a response out of it); more wait in line. Default 512.
     */
    public Builder maxStreams(int streams) {
      if (streams < 1) {
        throw new IllegalArgumentException("maxStreams must be >= 1, was " + streams);
      }
      this.maxStreams = streams;
      return this;
    }

    /**
     * Connects and returns the storage.
     *
     * @throws StorageException if Redis cannot be reached
     * @throws IllegalArgumentException if no server was given or the URI is invalid
     */
    public RedisStorage build() {
      if (uri == null && redisUri == null) {
        throw new IllegalArgumentException("no Redis URI given");
      }
      return new RedisStorage(this);
    }

    RedisURI redisUri() {
      if (redisUri != null) {
        return redisUri;
      }
      RedisURI parsed;
      try {
        parsed = RedisURI.create(uri);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("not a valid Redis URI: " + uri + " (" + e.getMessage() + ")", e);
      }
      if (!uri.contains("timeout=")) {
        parsed.setTimeout(commandTimeout);
      }
      return parsed;
    }

    private static Duration positive(Duration value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, was " + value);
      }
      return value;
    }
  }
}
