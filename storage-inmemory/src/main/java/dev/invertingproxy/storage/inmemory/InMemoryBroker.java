package dev.invertingproxy.storage.inmemory;

import dev.invertingproxy.ClaimedRequest;
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
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The in-memory rendezvous. Each backend has a queue of requests not yet offered, a list of
 * requests offered but not claimed (re-offered after {@link StorageOptions#reofferDelay()}) and
 * the long polls waiting for work. Exchanges move WAITING → CLAIMED → RESPONDING → DONE,
 * or to CANCELLED before RESPONDING; transitions are guarded by the exchange's monitor, queue
 * membership by the queue's monitor, and no listener or future is completed while holding either.
 */
final class InMemoryBroker implements RequestBroker {
  private final StorageOptions options;
  private final ScheduledExecutorService timer;
  private final ConcurrentHashMap<String, Exchange> exchanges = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, BackendQueue> queues = new ConcurrentHashMap<>();
  private static final int MAX_CANCEL_NOTICES = 1000;

  private final Answered answered = new Answered();
  private volatile boolean closed;

  InMemoryBroker(StorageOptions options, ScheduledExecutorService timer) {
    this.options = options;
    this.timer = timer;
  }

  @Override
  public PendingExchange submit(ParkedRequest request, MessageBody body, ResponseListener listener) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(body, "body");
    Objects.requireNonNull(listener, "listener");
    if (closed) {
      throw new StorageException("storage is closed");
    }
    Exchange exchange = new Exchange(request, body, listener);
    BackendQueue queue = queue(request.backendId());
    Waiter waiter;
    synchronized (queue) {
      if (queue.pendingCount() >= options.maxPendingPerBackend()) {
        throw new QueueFullException(
            "too many requests are waiting for backend "
                + request.backendId()
                + " (limit "
                + options.maxPendingPerBackend()
                + ")");
      }
      if (exchanges.putIfAbsent(request.id(), exchange) != null) {
        throw new IllegalArgumentException("duplicate request ID " + request.id());
      }
    }
    offer(queue, exchange);
    return exchange;
  }

  /**
   * Hands a waiting exchange to a waiting poll, or queues it. A poll that was cancelled after it
   * was picked (its agent left) cannot take it: then the next poll is tried.
   */
  private void offer(BackendQueue queue, Exchange exchange) {
    while (true) {
      Waiter waiter;
      synchronized (exchange) {
        if (exchange.state != State.WAITING) {
          return; // claimed or cancelled meanwhile
        }
        synchronized (queue) {
          waiter = queue.takeLiveWaiter();
          exchange.offeredAt = now();
          (waiter == null ? queue.queued : queue.offered).addLast(exchange);
        }
      }
      if (waiter == null || waiter.future.complete(List.of(exchange.request.id()))) {
        return;
      }
      synchronized (queue) {
        queue.offered.remove(exchange);
      }
    }
  }

  @Override
  public CompletableFuture<List<String>> awaitPending(String backendId, Duration maxWait) {
    return awaitPending(backendId, maxWait, Integer.MAX_VALUE);
  }

  @Override
  public CompletableFuture<List<String>> awaitPending(
      String backendId, Duration maxWait, int maxIds) {
    if (maxIds < 1) {
      throw new IllegalArgumentException("maxIds must be at least 1, was " + maxIds);
    }
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(maxWait, "maxWait");
    if (closed) {
      return CompletableFuture.completedFuture(List.of());
    }
    BackendQueue queue = queue(backendId);
    Waiter waiter;
    synchronized (queue) {
      List<String> ids = queue.drainOffers(now(), options.reofferDelay(), maxIds);
      if (!ids.isEmpty()) {
        return CompletableFuture.completedFuture(ids);
      }
      waiter = new Waiter();
      queue.waiters.addLast(waiter);
    }
    return wait(queue, queue.waiters, waiter, maxWait);
  }

  @Override
  public CompletableFuture<List<String>> awaitCancelled(String backendId, Duration maxWait) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(maxWait, "maxWait");
    if (closed) {
      return CompletableFuture.completedFuture(List.of());
    }
    BackendQueue queue = queue(backendId);
    Waiter waiter;
    synchronized (queue) {
      if (!queue.cancelled.isEmpty()) {
        List<String> ids = List.copyOf(queue.cancelled);
        queue.cancelled.clear();
        return CompletableFuture.completedFuture(ids);
      }
      waiter = new Waiter();
      queue.cancelWaiters.addLast(waiter);
    }
    return wait(queue, queue.cancelWaiters, waiter, maxWait);
  }

  /** Completes {@code waiter} with no IDs after {@code maxWait}, unless something came first. */
  private CompletableFuture<List<String>> wait(
      BackendQueue queue, ArrayDeque<Waiter> waiters, Waiter waiter, Duration maxWait) {
    CompletableFuture<List<String>> future = waiter.future;
    var timeout =
        timer.schedule(
            () -> {
              if (waiter.taken.compareAndSet(false, true)) {
                remove(queue, waiters, waiter);
                future.complete(List.of());
              }
            },
            Math.max(0, maxWait.toNanos()),
            TimeUnit.NANOSECONDS);
    future.whenComplete(
        (ids, failure) -> {
          timeout.cancel(false);
          // Cancelled by the caller (the agent went away): stop waiting.
          if (failure != null && waiter.taken.compareAndSet(false, true)) {
            remove(queue, waiters, waiter);
          }
        });
    return future;
  }

  /** An agent held this request and its client left: tell the backend's agents. */
  private void noteCancelled(Exchange exchange) {
    BackendQueue queue = queue(exchange.request.backendId());
    while (true) {
      Waiter waiter;
      synchronized (queue) {
        waiter = BackendQueue.takeLive(queue.cancelWaiters);
        if (waiter == null) {
          if (queue.cancelled.size() >= MAX_CANCEL_NOTICES) {
            queue.cancelled.pollFirst(); // bounded: the oldest notice is the least useful
          }
          queue.cancelled.addLast(exchange.request.id());
          return;
        }
      }
      if (waiter.future.complete(List.of(exchange.request.id()))) {
        return;
      } // that poll was cancelled after it was picked: try the next, or keep the notice
    }
  }

  @Override
  public ParkedRequest awaitingResponse(String backendId, String requestId) {
    Exchange exchange = find(backendId, requestId);
    synchronized (exchange) {
      switch (exchange.state) {
        case RESPONDING, DONE -> throw duplicate(requestId);
        case CANCELLED -> throw cancelled(requestId);
        default -> {
          return exchange.request;
        }
      }
    }
  }

  @Override
  public ClaimedRequest claim(String backendId, String requestId) {
    Exchange exchange = find(backendId, requestId);
    synchronized (exchange) {
      switch (exchange.state) {
        case WAITING -> {
          exchange.state = State.CLAIMED;
          dequeue(exchange);
        }
        case CLAIMED -> {
          if (exchange.body.started()) {
            throw new RequestConflictException(
                "request " + requestId + " was already read and its body streamed to that read");
          }
        }
        case RESPONDING, DONE -> throw new UnknownRequestException(
            "request " + requestId + " was already answered");
        case CANCELLED -> throw cancelled(requestId);
      }
      return new ClaimedRequest(exchange.request, exchange.body.newView());
    }
  }

  @Override
  public boolean release(String backendId, String requestId, InvertingProxyException failure) {
    Objects.requireNonNull(failure, "failure");
    Exchange exchange = exchanges.get(requestId);
    if (exchange == null || !exchange.request.backendId().equals(backendId)) {
      return false;
    }
    boolean failed;
    synchronized (exchange) {
      if (exchange.state != State.CLAIMED) {
        return false;
      }
      failed = exchange.released || exchange.body.started();
      if (failed) {
        exchange.state = State.CANCELLED;
      } else {
        exchange.released = true;
        exchange.state = State.WAITING;
      }
    }
    if (failed) {
      exchanges.remove(requestId, exchange);
      exchange.listener.onFailure(failure);
      return false;
    }
    offer(queue(backendId), exchange);
    return true;
  }

  @Override
  public void deliver(String backendId, String requestId, ResponseHead head, MessageBody body)
      throws IOException {
    Objects.requireNonNull(head, "head");
    Objects.requireNonNull(body, "body");
    Exchange exchange = find(backendId, requestId);
    synchronized (exchange) {
      switch (exchange.state) {
        case WAITING, CLAIMED -> {
          dequeue(exchange);
          exchange.state = State.RESPONDING;
        }
        case RESPONDING, DONE -> throw duplicate(requestId);
        case CANCELLED -> throw cancelled(requestId);
      }
    }
    try {
      exchange.listener.onResponse(head, body);
    } finally {
      finish(exchange);
    }
  }

  void close() {
    closed = true;
    List<Waiter> waiters = new ArrayList<>();
    for (BackendQueue queue : queues.values()) {
      synchronized (queue) {
        Waiter waiter;
        while ((waiter = queue.takeLiveWaiter()) != null) {
          waiters.add(waiter);
        }
        while ((waiter = BackendQueue.takeLive(queue.cancelWaiters)) != null) {
          waiters.add(waiter);
        }
      }
    }
    waiters.forEach(waiter -> waiter.future.complete(List.of()));
    for (Exchange exchange : exchanges.values()) {
      if (exchange.cancel()) {
        exchange.listener.onFailure(new StorageException("storage closed"));
      }
    }
  }

  private Exchange find(String backendId, String requestId) {
    Objects.requireNonNull(backendId, "backendId");
    Objects.requireNonNull(requestId, "requestId");
    Exchange exchange = exchanges.get(requestId);
    if (exchange == null || !exchange.request.backendId().equals(backendId)) {
      if (exchange == null && answered.contains(requestId, backendId, now(), options)) {
        throw duplicate(requestId);
      }
      throw new UnknownRequestException(
          "no pending request " + requestId + " for backend " + backendId);
    }
    return exchange;
  }

  private static DuplicateResponseException duplicate(String requestId) {
    return new DuplicateResponseException(
        "request " + requestId + " already has a response; this one is refused");
  }

  private static UnknownRequestException cancelled(String requestId) {
    return new UnknownRequestException(
        "request " + requestId + " was cancelled (the client left or it expired)");
  }

  private void finish(Exchange exchange) {
    synchronized (exchange) {
      exchange.state = State.DONE;
    }
    exchanges.remove(exchange.request.id(), exchange);
    answered.add(exchange.request.id(), exchange.request.backendId(), now(), options);
  }

  private void dequeue(Exchange exchange) {
    BackendQueue queue = queues.get(exchange.request.backendId());
    if (queue != null) {
      synchronized (queue) {
        queue.queued.remove(exchange);
        queue.offered.remove(exchange);
      }
    }
  }

  private static void remove(BackendQueue queue, ArrayDeque<Waiter> waiters, Waiter waiter) {
    synchronized (queue) {
      waiters.remove(waiter);
    }
  }

  private BackendQueue queue(String backendId) {
    return queues.computeIfAbsent(backendId, id -> new BackendQueue());
  }

  private Instant now() {
    return options.clock().instant();
  }

  private enum State {
    /** In the backend's queue, offered to a poll or not yet (the deque it is in tells). */
    WAITING,
    CLAIMED,
    RESPONDING,
    DONE,
    CANCELLED
  }

  /** One backend's requests waiting for an agent, and the agents waiting for requests. */
  private static final class BackendQueue {
    final ArrayDeque<Exchange> queued = new ArrayDeque<>();
    final ArrayDeque<Exchange> offered = new ArrayDeque<>();
    final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    final ArrayDeque<String> cancelled = new ArrayDeque<>();
    final ArrayDeque<Waiter> cancelWaiters = new ArrayDeque<>();

    int pendingCount() {
      return queued.size() + offered.size();
    }

    Waiter takeLiveWaiter() {
      return takeLive(waiters);
    }

    static Waiter takeLive(ArrayDeque<Waiter> waiters) {
      Waiter waiter;
      while ((waiter = waiters.pollFirst()) != null) {
        if (waiter.taken.compareAndSet(false, true)) {
          return waiter;
        }
      }
      return null;
    }

    /**
     * Offers queued requests, and re-offers those offered too long ago without a claim: at most
     * {@code max}, the oldest first; the rest stay for the next poll.
     */
    List<String> drainOffers(Instant now, Duration reofferDelay, int max) {
      if (queued.isEmpty() && offered.isEmpty()) {
        return List.of();
      }
      List<String> ids = new ArrayList<>();
      Instant staleBefore = now.minus(reofferDelay);
      List<Exchange> stale = new ArrayList<>();
      for (Iterator<Exchange> it = offered.iterator(); it.hasNext() && stale.size() < max; ) {
        Exchange exchange = it.next();
        if (exchange.offeredAt.isAfter(staleBefore)) {
          break; // kept in offer order: the rest are fresher
        }
        it.remove();
        if (exchange.state == State.WAITING) { // a claim may be removing it right now
          stale.add(exchange);
        }
      }
      for (Exchange exchange : stale) {
        exchange.offeredAt = now;
        offered.addLast(exchange);
        ids.add(exchange.request.id());
      }
      Exchange exchange;
      while (ids.size() < max && (exchange = queued.pollFirst()) != null) {
        if (exchange.state != State.WAITING) {
          continue; // claimed or cancelled while queued: its claimer removes it anyway
        }
        exchange.offeredAt = now;
        offered.addLast(exchange);
        ids.add(exchange.request.id());
      }
      return ids;
    }
  }

  /** A long poll waiting for work. */
  private static final class Waiter {
    final CompletableFuture<List<String>> future = new CompletableFuture<>();
    final AtomicBoolean taken = new AtomicBoolean();
  }

  private final class Exchange implements PendingExchange {
    final ParkedRequest request;
    final ClaimableBody body;
    final ResponseListener listener;
    volatile State state = State.WAITING; // written under this exchange's monitor
    boolean released; // guarded by this: given back once after its agent failed
    Instant offeredAt = Instant.MIN; // guarded by the queue

    Exchange(ParkedRequest request, MessageBody body, ResponseListener listener) {
      this.request = request;
      this.body = new ClaimableBody(body);
      this.listener = listener;
    }

    @Override
    public String id() {
      return request.id();
    }

    @Override
    public boolean cancel() {
      boolean claimed;
      synchronized (this) {
        switch (state) {
          case CANCELLED -> {
            return true;
          }
          case RESPONDING, DONE -> {
            return false;
          }
          default -> {
            claimed = state == State.CLAIMED;
            state = State.CANCELLED;
          }
        }
      }
      dequeue(this);
      exchanges.remove(request.id(), this);
      if (claimed) {
        noteCancelled(this);
      }
      return true;
    }
  }

  /**
   * The client's body, shared by the claims of one request. Each claim gets a view; a newer claim
   * invalidates older views. A claim may be repeated until a byte has been served; bytes that a
   * stale view received after a newer claim poison the body, so no read ever sees a body with a
   * hole in it.
   */
  private static final class ClaimableBody {
    private final MessageBody body;
    private final AtomicInteger generation = new AtomicInteger();
    private volatile boolean started;
    private volatile boolean broken;

    ClaimableBody(MessageBody body) {
      this.body = body;
    }

    boolean started() {
      return started;
    }

    MessageBody newView() {
      int mine = generation.incrementAndGet();
      InputStream view =
          new InputStream() {
            private void check() throws IOException {
              if (generation.get() != mine) {
                throw new IOException("request was claimed again by a newer read");
              }
              if (broken) {
                throw new IOException("request body was taken by an earlier read");
              }
            }

            private int served(int n) throws IOException {
              if (n > 0) {
                if (generation.get() != mine) {
                  broken = true; // these bytes are gone: the newer read must not go on
                  throw new IOException("request was claimed again by a newer read");
                }
                started = true;
              }
              return n;
            }

            // One reader at a time on the client's stream: a stale read still blocked when a
            // newer claim starts finishes (and poisons the body) before the newer one reads.
            @Override
            public int read() throws IOException {
              synchronized (ClaimableBody.this) {
                check();
                int b = body.stream().read();
                served(b < 0 ? -1 : 1);
                return b;
              }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
              synchronized (ClaimableBody.this) {
                check();
                return served(body.stream().read(b, off, len));
              }
            }

            @Override
            public int available() throws IOException {
              return generation.get() == mine && !broken ? body.stream().available() : 0;
            }
          };
      return MessageBody.of(view, body.contentLength(), body::trailers);
    }
  }

  /** IDs of recently answered requests, so a second response is told "duplicate", not "unknown". */
  private static final class Answered {
    private record Entry(String requestId, String backendId, Instant at) {}

    private final ConcurrentHashMap<String, String> backendById = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Entry> order = new ConcurrentLinkedQueue<>();

    void add(String requestId, String backendId, Instant now, StorageOptions options) {
      backendById.put(requestId, backendId);
      order.add(new Entry(requestId, backendId, now));
      expire(now.minus(options.answeredMemory()));
    }

    boolean contains(String requestId, String backendId, Instant now, StorageOptions options) {
      expire(now.minus(options.answeredMemory()));
      return backendId.equals(backendById.get(requestId));
    }

    private void expire(Instant before) {
      Entry head;
      while ((head = order.peek()) != null && head.at().isBefore(before)) {
        if (order.remove(head)) {
          backendById.remove(head.requestId(), head.backendId());
        }
      }
    }
  }
}
