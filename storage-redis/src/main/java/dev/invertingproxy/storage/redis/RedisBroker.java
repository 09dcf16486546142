package dev.invertingproxy.storage.redis;

import dev.invertingproxy.ClaimedRequest;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.DuplicateResponseException;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ParkedRequest;
import dev.invertingproxy.PendingExchange;
import dev.invertingproxy.QueueFullException;
import dev.invertingproxy.RequestBroker;
import dev.invertingproxy.RequestConflictException;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.ResponseListener;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.UnknownRequestException;
import dev.invertingproxy.spi.StorageOptions;
import io.lettuce.core.ScriptOutputType;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The broker over Redis. Each step is one Lua script (see {@link Scripts}), so a request is
 * offered to one poll and claimed by one agent however many nodes there are. The node that holds
 * a client's connection ("owner") keeps the listener and the client's body; it pumps the body into
 * Redis once an agent claims the request and relays the response when one starts. Nodes wake each
 * other by pub/sub ({@link Signals}); nothing sleeps and polls.
 */
final class RedisBroker implements RequestBroker {
  private static final Logger LOGGER = System.getLogger(RedisBroker.class.getName());

  private final Redis redis;
  private final Signals signals;
  private final StorageOptions options;
  private final RedisStorage.Settings settings;
  private final ScheduledExecutorService timer;
  private final Executor events;
  private final ExecutorService streams;
  private final Executor handoff;
  private final BodyChannel channel;
  private final ConcurrentHashMap<String, Owned> owned = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, WaitQueue> pendingQueues = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, WaitQueue> cancelQueues = new ConcurrentHashMap<>();
  private volatile boolean closed;

  RedisBroker(
      Redis redis,
      Signals signals,
      StorageOptions options,
      RedisStorage.Settings settings,
      ScheduledExecutorService timer,
      Executor events,
      ExecutorService streams,
      Executor handoff) {
    this.redis = redis;
    this.signals = signals;
    this.options = options;
    this.settings = settings;
    this.timer = timer;
    this.events = events;
    this.streams = streams;
    this.handoff = handoff;
    this.channel =
        new BodyChannel(
            redis,
            signals,
            settings.window(),
            settings.requestTtl().toMillis(),
            settings.livenessCheck().toMillis());
  }

  // ------------------------------------------------------------------ client side (owner)

  @Override
  public PendingExchange submit(ParkedRequest request, MessageBody body, ResponseListener listener) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(body, "body");
    Objects.requireNonNull(listener, "listener");
    if (closed) {
      throw new StorageException("storage is closed");
    }
    Owned exchange = new Owned(request, body, listener);
    if (owned.putIfAbsent(request.id(), exchange) != null) {
      throw new IllegalArgumentException("duplicate request ID " + request.id());
    }
    exchange.registration = signals.watch(exchange.key, exchange::onSignal);
    List<byte[]> args = new ArrayList<>();
    args.add(Redis.bytes(options.maxPendingPerBackend()));
    args.add(Redis.bytes(request.id()));
    args.add(Redis.bytes(now().toEpochMilli()));
    args.add(Redis.bytes(settings.requestTtl().toMillis()));
    args.add(Redis.bytes(request.backendId()));
    field(args, "b", request.backendId());
    field(args, "s", "W");
    field(args, "o", redis.node);
    args.add(Redis.bytes("h"));
    args.add(Encoding.requestHead(request.head()));
    field(args, "t", request.startTime().toString());
    request.userId().ifPresent(user -> field(args, "u", user));
    field(args, "cl", Long.toString(body.contentLength()));
    Long result;
    try {
      result =
          redis.eval(
              Scripts.SUBMIT,
              ScriptOutputType.INTEGER,
              new String[] {redis.request(request.id()), redis.queue(request.backendId())},
              args.toArray(new byte[0][]));
    } catch (RuntimeException e) {
      exchange.forget();
      throw e;
    }
    if (result == 0) {
      exchange.forget();
      throw new QueueFullException(
          "too many requests are waiting for backend "
              + request.backendId()
              + " (limit "
              + options.maxPendingPerBackend()
              + ")");
    } else if (result < 0) {
      exchange.forget();
      throw new IllegalArgumentException("duplicate request ID " + request.id());
    }
    return exchange;
  }

  private static void field(List<byte[]> args, String name, String value) {
    args.add(Redis.bytes(name));
    args.add(Redis.bytes(value));
  }

  /** A request whose client this node holds. */
  private final class Owned implements PendingExchange {
    final ParkedRequest request;
    final MessageBody body;
    final ResponseListener listener;
    final String key;
    final AtomicBoolean done = new AtomicBoolean(); // listener called, or withdrawn
    final AtomicBoolean pumping = new AtomicBoolean();
    final AtomicBoolean relaying = new AtomicBoolean();
    volatile Signals.Registration registration;

    Owned(ParkedRequest request, MessageBody body, ResponseListener listener) {
      this.request = request;
      this.body = body;
      this.listener = listener;
      this.key = redis.request(request.id());
    }

    @Override
    public String id() {
      return request.id();
    }

    @Override
    public boolean cancel() {
      if (relaying.get()) {
        return false;
      }
      Long withdrawn;
      try {
        withdrawn =
            redis.eval(
                Scripts.CANCEL,
                ScriptOutputType.INTEGER,
                new String[] {
                  key,
                  redis.queue(request.backendId()),
                  redis.cancelNotices(request.backendId()),
                  redis.requestBody(request.id())
                },
                Redis.bytes(request.id()),
                Redis.bytes(request.backendId()),
                Redis.bytes(settings.requestTtl().toMillis()),
                Redis.bytes(answeredMemoryMillis()));
      } catch (StorageException e) {
        // Redis is unreachable: nobody can answer this request through it anyway.
        LOGGER.log(Level.DEBUG, () -> "[" + id() + "] withdrawn locally: " + e.getMessage());
        withdrawn = 1L;
      }
      if (withdrawn == 1) {
        done.set(true);
        forget();
        return true;
      }
      return false;
    }

    /** The request's state changed in Redis (or the subscription came back): act on it. */
    void onSignal() {
      if (done.get()) {
        return;
      }
      List<byte[]> fields;
      try {
        // The response's fields too: once it started, the relay needs no second read.
        fields = redis.call(() -> redis.commands().hmget(key, "s", "fk", "fm", "rh", "rcl", "rb").stream()
            .map(value -> value.getValueOrElse(null)).toList());
      } catch (StorageException e) {
        return; // Redis is down; the reconnect signals again
      }
      byte[] state = fields.get(0);
      if (state == null) {
        fail(new StorageException("the storage (Redis) lost request " + id() + "; was it restarted?"));
        return;
      }
      switch (Encoding.string(state)) {
        case "C" -> {
          if (body.contentLength() != 0 && pumping.compareAndSet(false, true)) {
            start(this::pump);
          }
        }
        case "S" -> {
          if (relaying.compareAndSet(false, true)) {
            start(() -> relay(fields.get(3), fields.get(4), fields.get(5)));
          }
        }
        case "X" -> {
          if (fields.get(1) != null) {
            fail(
                Encoding.failure(
                    Encoding.string(fields.get(1)),
                    fields.get(2) == null ? "the request failed" : Encoding.string(fields.get(2))));
          }
        }
        default -> {
          // waiting, or an end this node wrote itself
        }
      }
    }

    private void start(Runnable task) {
      try {
        streams.execute(task);
      } catch (RejectedExecutionException e) {
        fail(new StorageException("the proxy node is shutting down"));
      }
    }

    /** Streams the client's body into Redis for the agent that claimed the request. */
    private void pump() {
      try {
        channel.copy(key, redis.requestBody(id()), "rn", body, settings.chunkSize());
      } catch (BodyChannel.PeerGone e) {
        release(
            request.backendId(),
            id(),
            new dev.invertingproxy.AgentFailedException(
                "the agent's read of the request failed: " + e.getMessage()));
      } catch (IOException | RuntimeException e) {
        LOGGER.log(Level.DEBUG, () -> "[" + id() + "] request body not sent on: " + e);
      }
    }

    /**
     * Relays the response that an agent (on any node) is streaming into Redis, given its head,
     * length and (if it came whole) body as read with the state.
     */
    private void relay(byte[] rawHead, byte[] rawLength, byte[] inline) {
      String finalState = "G";
      try {
        if (rawHead == null || rawLength == null) {
          throw new StorageException("the response head of request " + id() + " is missing");
        }
        ResponseHead head = Encoding.responseHead(rawHead);
        long length = Long.parseLong(Encoding.string(rawLength));
        MessageBody response =
            inline != null
                ? MessageBody.of(inline)
                : channel.reader(key, redis.responseBody(id()), "", "wn", length);
        done.set(true);
        listener.onResponse(head, response);
        finalState = "D";
      } catch (InvertingProxyException e) {
        if (!(e instanceof ClientGoneException) && done.compareAndSet(false, true)) {
          listener.onFailure(e);
        }
        LOGGER.log(Level.DEBUG, () -> "[" + id() + "] response not relayed: " + e);
      } catch (IOException | RuntimeException e) {
        LOGGER.log(Level.DEBUG, () -> "[" + id() + "] response cut: " + e);
      } finally {
        finish(finalState);
      }
    }

    private void finish(String state) {
      try {
        redis.eval(
            Scripts.FINISH,
            ScriptOutputType.INTEGER,
            new String[] {key, redis.responseBody(id()), redis.requestBody(id())},
            Redis.bytes(state),
            Redis.bytes(now().toEpochMilli()),
            Redis.bytes(answeredMemoryMillis()));
      } catch (StorageException e) {
        LOGGER.log(Level.DEBUG, () -> "[" + id() + "] could not record the end: " + e.getMessage());
      } finally {
        forget();
      }
    }

    void fail(InvertingProxyException failure) {
      if (done.compareAndSet(false, true)) {
        forget();
        listener.onFailure(failure);
      }
    }

    void forget() {
      owned.remove(id(), this);
      Signals.Registration watching = registration;
      if (watching != null) {
        watching.close();
      }
    }
  }

  /** Keeps the requests this node holds from expiring while their clients wait. */
  void renewLeases() {
    for (Owned exchange : owned.values()) {
      redis.async().pexpire(exchange.key, settings.requestTtl().toMillis());
    }
  }

  /** How many requests this node holds (for tests). */
  int ownedCount() {
    return owned.size();
  }

  // ------------------------------------------------------------------ agent side

  @Override
  public CompletableFuture<List<String>> awaitPending(String backendId, Duration maxWait) {
    return awaitPending(backendId, maxWait, Integer.MAX_VALUE);
  }

  @Override
  public CompletableFuture<List<String>> awaitPending(String backendId, Duration maxWait, int maxIds) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(maxWait, "maxWait");
    if (closed) {
      return CompletableFuture.completedFuture(List.of());
    }
    return pendingQueue(backendId).await(maxWait, maxIds);
  }

  private WaitQueue pendingQueue(String backendId) {
    return pendingQueues.computeIfAbsent(
        backendId,
        backend -> {
          String queue = redis.queue(backend);
          WaitQueue waiting =
              new WaitQueue(
                  new WaitQueue.Source() {
                    @Override
                    public WaitQueue.Drained drain(int max) {
                      long now = now().toEpochMilli();
                      List<Object> result =
                          redis.eval(
                              Scripts.DRAIN,
                              ScriptOutputType.MULTI,
                              new String[] {queue},
                              Redis.bytes(now),
                              Redis.bytes(now + options.reofferDelay().toMillis()),
                              Redis.bytes(Math.min(max, options.maxPendingPerBackend())),
                              Redis.bytes(settings.requestTtl().toMillis()));
                      List<String> ids = strings(result.get(0));
                      String next = Encoding.string((byte[]) result.get(1));
                      long retry = next.isEmpty() ? -1 : Math.max(0, (long) Double.parseDouble(next) - now);
                      return new WaitQueue.Drained(ids, retry);
                    }

                    @Override
                    public void giveBack(List<String> ids) {
                      List<byte[]> args = new ArrayList<>();
                      args.add(Redis.bytes(now().toEpochMilli()));
                      args.add(Redis.bytes(backend));
                      ids.forEach(id -> args.add(Redis.bytes(id)));
                      redis.eval(
                          Scripts.UNOFFER,
                          ScriptOutputType.INTEGER,
                          new String[] {queue},
                          args.toArray(new byte[0][]));
                    }
                  },
                  timer,
                  events,
                  handoff);
          signals.watch(queue, waiting::signal);
          return waiting;
        });
  }

  @Override
  public CompletableFuture<List<String>> awaitCancelled(String backendId, Duration maxWait) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(maxWait, "maxWait");
    if (closed) {
      return CompletableFuture.completedFuture(List.of());
    }
    return cancelQueues
        .computeIfAbsent(
            backendId,
            backend -> {
              String notices = redis.cancelNotices(backend);
              WaitQueue waiting =
                  new WaitQueue(
                      new WaitQueue.Source() {
                        @Override
                        public WaitQueue.Drained drain(int max) {
                          List<Object> ids =
                              redis.eval(Scripts.TAKE_ALL, ScriptOutputType.MULTI, new String[] {notices});
                          return new WaitQueue.Drained(strings(ids), -1);
                        }

                        @Override
                        public void giveBack(List<String> ids) {
                          List<byte[]> args = new ArrayList<>();
                          args.add(Redis.bytes(backend));
                          args.add(Redis.bytes(settings.requestTtl().toMillis()));
                          ids.forEach(id -> args.add(Redis.bytes(id)));
                          redis.eval(
                              Scripts.GIVE_BACK_NOTICES,
                              ScriptOutputType.INTEGER,
                              new String[] {notices},
                              args.toArray(new byte[0][]));
                        }
                      },
                      timer,
                      events,
                      handoff);
              signals.watch(notices, waiting::signal);
              return waiting;
            })
        .await(maxWait, Integer.MAX_VALUE);
  }

  @Override
  public ParkedRequest awaitingResponse(String backendId, String requestId) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(requestId, "requestId");
    String key = redis.request(requestId);
    List<byte[]> fields =
        redis.call(
            () ->
                redis.commands().hmget(key, "b", "s", "at", "h", "t", "u").stream()
                    .map(value -> value.getValueOrElse(null))
                    .toList());
    if (fields.get(0) == null || !backendId.equals(Encoding.string(fields.get(0)))) {
      throw unknown(requestId, backendId);
    }
    switch (Encoding.string(fields.get(1))) {
      case "S", "G" -> throw duplicate(requestId);
      case "D" -> throw answered(requestId, backendId, fields.get(2));
      case "X" -> throw cancelled(requestId);
      default -> {
        return new ParkedRequest(
            requestId,
            backendId,
            Encoding.requestHead(fields.get(3)),
            Instant.parse(Encoding.string(fields.get(4))),
            fields.get(5) == null ? null : Encoding.string(fields.get(5)));
      }
    }
  }

  @Override
  public ClaimedRequest claim(String backendId, String requestId) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(requestId, "requestId");
    String key = redis.request(requestId);
    List<Object> result =
        redis.eval(
            Scripts.CLAIM,
            ScriptOutputType.MULTI,
            new String[] {key, redis.queue(backendId)},
            Redis.bytes(requestId),
            Redis.bytes(backendId),
            Redis.bytes(redis.node));
    String outcome = Encoding.string((byte[]) result.get(0));
    switch (outcome) {
      case "ok" -> {
        String generation = Encoding.string((byte[]) result.get(1));
        String user = Encoding.string((byte[]) result.get(4));
        long length = Long.parseLong(Encoding.string((byte[]) result.get(5)));
        ParkedRequest request =
            new ParkedRequest(
                requestId,
                backendId,
                Encoding.requestHead((byte[]) result.get(2)),
                Instant.parse(Encoding.string((byte[]) result.get(3))),
                user.isEmpty() ? null : user);
        MessageBody body =
            length == 0
                ? MessageBody.empty()
                : channel.reader(key, redis.requestBody(requestId), generation, "o", length);
        return new ClaimedRequest(request, body);
      }
      case "conflict" -> throw new RequestConflictException(
          "request " + requestId + " was already read and its body streamed to that read");
      case "answered" -> throw new UnknownRequestException(
          "request " + requestId + " was already answered");
      case "gone" -> throw new UnknownRequestException(
          "request " + requestId + " was withdrawn: the proxy node holding its client left");
      case "cancelled" -> throw cancelled(requestId);
      default -> throw unknown(requestId, backendId);
    }
  }

  @Override
  public boolean release(String backendId, String requestId, InvertingProxyException failure) {
    Objects.requireNonNull(failure, "failure");
    byte[] result =
        redis.eval(
            Scripts.RELEASE,
            ScriptOutputType.VALUE,
            new String[] {redis.request(requestId), redis.queue(backendId)},
            Redis.bytes(requestId),
            Redis.bytes(backendId),
            Redis.bytes(now().toEpochMilli()),
            Redis.bytes(Encoding.failureKind(failure)),
            Redis.bytes(String.valueOf(failure.getMessage())));
    return "again".equals(Encoding.string(result));
  }

  @Override
  public void deliver(String backendId, String requestId, ResponseHead head, MessageBody body)
      throws IOException {
    Objects.requireNonNull(head, "head");
    Objects.requireNonNull(body, "body");
    String key = redis.request(requestId);
    // A small body that is all there at once goes with the head: no chunk list, no extra steps.
    Prefetched start = Prefetched.read(body, settings.chunkSize());
    Signals.Wakeup ended = new Signals.Wakeup();
    try (Signals.Registration ignored = signals.watch(key, ended)) {
      List<Object> result =
          redis.eval(
              Scripts.BEGIN_RESPONSE,
              ScriptOutputType.MULTI,
              new String[] {key, redis.queue(backendId)},
              Redis.bytes(requestId),
              Redis.bytes(backendId),
              Encoding.responseHead(head),
              Redis.bytes(redis.node),
              Redis.bytes(body.contentLength()),
              Redis.bytes(start.whole() ? "1" : "0"),
              start.whole() ? start.bytes() : new byte[0]);
      switch (Encoding.string((byte[]) result.get(0))) {
        case "ok" -> {}
        case "duplicate" -> throw duplicate(requestId);
        case "done" -> throw answered(requestId, backendId, (byte[]) result.get(1));
        case "cancelled" -> throw cancelled(requestId);
        default -> throw unknown(requestId, backendId);
      }
      try {
        if (!start.whole()) {
          channel.copy(key, redis.responseBody(requestId), "o", start.rest(), settings.chunkSize());
        }
      } catch (BodyChannel.Ended | BodyChannel.PeerGone e) {
        throw new ClientGoneException("the client of request " + requestId + " left: " + e.getMessage());
      }
      awaitRelayed(key, requestId, ended);
    }
  }

  /** Returns once the owner node has relayed the whole response (or throws if it could not). */
  private void awaitRelayed(String key, String requestId, Signals.Wakeup ended) throws IOException {
    while (true) {
      // The owner's end (FINISH) signals this node, and the watch began before the response did:
      // wait first, then look (a signal that came before the wait is kept).
      boolean signalled;
      try {
        signalled = ended.await(settings.livenessCheck().toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while the response was relayed");
      }
      byte[] state = redis.call(() -> redis.commands().hget(key, "s"));
      String value = state == null ? "" : Encoding.string(state);
      if (value.equals("D")) {
        return;
      } else if (!value.equals("S")) {
        throw new ClientGoneException("the client of request " + requestId + " left");
      }
      if (!signalled) {
        try {
          channel.requirePeer(key, "o", "the proxy node holding the client left");
        } catch (BodyChannel.PeerGone e) {
          throw new ClientGoneException(e.getMessage());
        }
      }
    }
  }

  // ------------------------------------------------------------------ lifecycle

  /** Ends every waiting poll of this node with {@code failure}. */
  void failWaiting(StorageException failure) {
    pendingQueues.values().forEach(queue -> queue.failAll(failure));
    cancelQueues.values().forEach(queue -> queue.failAll(failure));
  }

  void close() {
    closed = true;
    pendingQueues.values().forEach(WaitQueue::endAll);
    cancelQueues.values().forEach(WaitQueue::endAll);
    for (Owned exchange : List.copyOf(owned.values())) {
      if (exchange.cancel()) {
        exchange.listener.onFailure(new StorageException("storage closed"));
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  private long answeredMemoryMillis() {
    return Math.max(1, options.answeredMemory().toMillis());
  }

  private Instant now() {
    return options.clock().instant();
  }

  private InvertingProxyException answered(String requestId, String backendId, byte[] at) {
    if (at != null) {
      long answeredAt = Long.parseLong(Encoding.string(at));
      if (now().toEpochMilli() - answeredAt <= options.answeredMemory().toMillis()) {
        return duplicate(requestId);
      }
    }
    return unknown(requestId, backendId);
  }

  @SuppressWarnings("unchecked")
  private static List<String> strings(Object list) {
    List<String> out = new ArrayList<>();
    for (Object each : (List<Object>) list) {
      out.add(Encoding.string((byte[]) each));
    }
    return out;
  }

  private static UnknownRequestException unknown(String requestId, String backendId) {
    return new UnknownRequestException("no pending request " + requestId + " for backend " + backendId);
  }

  private static DuplicateResponseException duplicate(String requestId) {
    return new DuplicateResponseException(
        "request " + requestId + " already has a response; this one is refused");
  }

  private static UnknownRequestException cancelled(String requestId) {
    return new UnknownRequestException(
        "request " + requestId + " was cancelled (the client left or it expired)");
  }
}
