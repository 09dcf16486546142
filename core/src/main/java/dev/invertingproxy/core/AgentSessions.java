package dev.invertingproxy.core;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The agents this node sees, one session each, for the {@link ProxyListener} events "connected"
 * and "disconnected". An agent is known by the ID it names itself with, or, for agents that send
 * none (the reference agent), by its identity and address. A session starts with the agent's
 * first authorized call, and ends when the agent says it is going or when it made no call for the
 * liveness window while holding no poll ({@link #sweep}, run by the engine's timer).
 *
 * <p>Bounded: at most {@link #MAX_SESSIONS} at once; agents beyond are served but not reported.
 *
 * <p>This class is thread-safe.
 */
final class AgentSessions {
  private static final System.Logger LOGGER = System.getLogger(ProxyEngine.class.getName());
  static final int MAX_SESSIONS = 10_000;

  /** One agent's session; its polls keep it alive. */
  static final class Session {
    final ProxyListener.AgentEvent agent;
    final AtomicInteger polls = new AtomicInteger();
    volatile long lastActive;
    private final boolean tracked;
    private final AtomicBoolean greeted = new AtomicBoolean();
    private final java.util.function.BooleanSupplier greeting;

    Session(
        ProxyListener.AgentEvent agent,
        long now,
        boolean tracked,
        java.util.function.BooleanSupplier greeting) {
      this.agent = agent;
      this.lastActive = now;
      this.tracked = tracked;
      this.greeting = greeting;
    }

    /**
     * True once, for the first poll of a session this node tracks, unless the same caller (backend,
     * identity, address) was greeted within the last second (an agent that names itself anew on
     * every call must not turn its polls into a busy loop): the engine answers it at once, so that
     * the agent learns the proxy's capabilities without waiting out a long poll.
     */
    boolean firstPoll() {
      return tracked && greeted.compareAndSet(false, true) && greeting.getAsBoolean();
    }

    /** A poll of this agent starts; call {@link #pollEnded} when it ends. */
    void pollStarted() {
      polls.incrementAndGet();
      lastActive = System.nanoTime();
    }

    void pollEnded() {
      lastActive = System.nanoTime();
      polls.decrementAndGet();
    }
  }

  private final ConcurrentHashMap<String, Session> sessions = new ConcurrentHashMap<>();
  /** Agents that said goodbye, with when (System.nanoTime). */
  private final ConcurrentHashMap<String, Long> left = new ConcurrentHashMap<>();
  /** Callers last answered at once, with when (System.nanoTime). */
  private final ConcurrentHashMap<String, Long> greeted = new ConcurrentHashMap<>();
  private static final long LEFT_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(1);
  private static final long GREETING_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
  private final ProxyEvents events;
  private final AtomicBoolean full = new AtomicBoolean();

  AgentSessions(ProxyEvents events) {
    this.events = events;
  }

  /**
   * The agent made an authorized call: returns its session. Only a poll ({@code poll} true) starts
   * one; other calls (reads, answers) keep an existing one alive, so an agent that answers the
   * requests it holds after it said it is going is not reported as connected again.
   */
  Session active(ProxyListener.AgentEvent agent, boolean poll) {
    long now = System.nanoTime();
    String key = key(agent);
    Session session = sessions.get(key);
    if (session != null) {
      session.lastActive = now;
      return session;
    }
    if (!poll || recentlyLeft(key, now)) {
      // Not a poll; or a poll the proxy took after the agent's goodbye (sent before the agent
      // closed it): served, but the agent is not reported as connected again.
      return new Session(agent, now, false, () -> false);
    }
    if (sessions.size() >= MAX_SESSIONS) {
      if (full.compareAndSet(false, true)) {
        LOGGER.log(
            Level.WARNING,
            () -> MAX_SESSIONS + " agents seen at once on this node: further ones are not reported");
      }
      return new Session(agent, now, false, () -> false); // served, not tracked
    }
    boolean[] created = new boolean[1];
    session =
        sessions.computeIfAbsent(
            key,
            k -> {
              created[0] = true;
              return new Session(agent, now, true, () -> greet(agent, now));
            });
    session.lastActive = now;
    if (created[0]) {
      events.agentConnected(agent);
    }
    return session;
  }

  /**
   * The agent said it is going: reported if this node saw it connect (a goodbye may reach a node
   * that never saw the agent). Polls of it that this node takes in the next {@link #LEFT_NANOS}
   * (sent before the agent closed them) do not report it as connected again.
   */
  void left(ProxyListener.AgentEvent agent) {
    left(key(agent));
  }

  /** A goodbye taken by any node (announced through the registry): as {@link #left}. */
  void heardLeft(String backendId, String agentId) {
    if (!agentId.isEmpty()) {
      left(backendId + '\u0000' + agentId);
    }
  }

  private void left(String key) {
    long now = System.nanoTime();
    if (left.size() >= MAX_SESSIONS) {
      left.clear(); // bounded; at worst a late poll reports the agent once more
    }
    left.put(key, now);
    Session session = sessions.remove(key);
    if (session != null && session.tracked) {
      events.agentDisconnected(session.agent, true);
    }
  }

  /**
   * Whether this agent said goodbye here within the last {@link #LEFT_NANOS}: a poll of it now is
   * one it sent before it closed (or an agent that reuses another's ID).
   */
  boolean saidGoodbye(ProxyListener.AgentEvent agent) {
    return !agent.agentId().isEmpty() && recentlyLeft(key(agent), System.nanoTime());
  }

  /** Whether the agent of {@code key} said goodbye within the last {@link #LEFT_NANOS}. */
  private boolean recentlyLeft(String key, long now) {
    Long at = left.get(key);
    if (at == null) {
      return false;
    }
    if (now - at < LEFT_NANOS) {
      return true;
    }
    left.remove(key, at);
    return false;
  }

  /** Allows an immediate first answer to a caller at most once a second. */
  private boolean greet(ProxyListener.AgentEvent agent, long now) {
    String caller = agent.backendId() + '\u0000' + agent.identity() + '@' + agent.address();
    if (greeted.size() >= MAX_SESSIONS) {
      greeted.clear();
    }
    boolean[] allowed = new boolean[1];
    greeted.compute(
        caller,
        (k, last) -> {
          if (last == null || now - last >= GREETING_NANOS) {
            allowed[0] = true;
            return now;
          }
          return last;
        });
    return allowed[0];
  }

  /** Ends the sessions of agents silent for longer than {@code windowNanos} and holding no poll. */
  void sweep(long windowNanos) {
    long now = System.nanoTime();
    List<Session> ended = new ArrayList<>();
    sessions.forEach(
        (key, session) -> {
          if (session.polls.get() <= 0
              && now - session.lastActive > windowNanos
              && sessions.remove(key, session)) {
            ended.add(session);
          }
        });
    if (sessions.size() < MAX_SESSIONS) {
      full.set(false);
    }
    left.values().removeIf(at -> now - at >= LEFT_NANOS);
    greeted.values().removeIf(at -> now - at >= GREETING_NANOS);
    for (Session session : ended) {
      events.agentDisconnected(session.agent, false);
    }
  }

  /** How many agents this node sees now. */
  int size() {
    return sessions.size();
  }

  private static String key(ProxyListener.AgentEvent agent) {
    return agent.backendId()
        + '\u0000'
        + (agent.agentId().isEmpty() ? agent.identity() + '@' + agent.address() : agent.agentId());
  }
}
