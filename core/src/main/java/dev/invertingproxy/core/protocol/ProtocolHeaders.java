package dev.invertingproxy.core.protocol;

/**
 * Header names of the agent protocol: the v1 wire protocol (the reference {@code
 * inverting-proxy}'s) and this project's extensions, compared without regard to case.
 *
 * @since 0.1
 */
public final class ProtocolHeaders {
  /** Sent by the agent on every call: the backend it serves. */
  public static final String BACKEND_ID = "X-Inverting-Proxy-Backend-ID";
  /** Sent by the agent on read and post: the parked request's ID. */
  public static final String REQUEST_ID = "X-Inverting-Proxy-Request-ID";
  /** Sent by the proxy on a read: when it received the request, RFC 3339 with nanoseconds. */
  public static final String REQUEST_START_TIME = "X-Inverting-Proxy-Request-Start-Time";
  /** Sent by the proxy on a read (and by the agent to the backend, if asked): the end user. */
  public static final String USER_ID = "X-Inverting-Proxy-User-ID";
  /**
   * Sent by this project's agent on every call: an ID it picked at random when it started (128
   * bits, hexadecimal), so that the proxy can tell its agents apart and let one leave (extension
   * {@code leave-notice}). The reference agent sends none.
   */
  public static final String AGENT_ID = "X-Inverting-Proxy-Agent-ID";
  /**
   * Sent by this project's proxy on poll answers: the protocol extensions it offers, comma
   * separated (see {@link Capabilities}). The reference proxies send none.
   */
  public static final String CAPABILITIES = "X-Inverting-Proxy-Capabilities";
  /** The prefix of every protocol header; clients may never send such a header through. */
  public static final String PREFIX = "X-Inverting-Proxy-";

  private ProtocolHeaders() {}
}
