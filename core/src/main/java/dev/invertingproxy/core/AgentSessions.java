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

    Session(ProxyListener.AgentEvent agent, long now, boolean tracked) {
      this.agent = agent;
      this.lastActive = now;
      this.tracked = tracked;
    }

    /**
     * True once, for the first poll of a session this node tracks: the engine answers it at once,
     * so that the agent learns the proxy's capabilities without waiting out a long poll.
     */
    boolean firstPoll() {
      return tracked && greeted.compareAndSet(false, true);
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
    if (!poll) {
      return new Session(agent, now, false);
    }
    if (sessions.size() >= MAX_SESSIONS) {
      if (full.compareAndSet(false, true)) {
        LOGGER.log(
            Level.WARNING,
            () -> MAX_SESSIONS + " agents seen at once on this node: further ones are not reported");
      }
      return new Session(agent, now, false); // served, not tracked
    }
    boolean[] created = new boolean[1];
    session =
        sessions.computeIfAbsent(
            key,
            k -> {
              created[0] = true;
              return new Session(agent, now, true);
            });
    session.lastActive = now;
    if (created[0]) {
      events.agentConnected(agent);
    }
    return session;
  }

  /** The agent said it is going. */
  void left(ProxyListener.AgentEvent agent) {
    Session session = sessions.remove(key(agent));
    events.agentDisconnected(session != null ? session.agent : agent, true);
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
