package dev.invertingproxy.core.spi;

import java.io.IOException;

/**
 * A request claimed for an agent by a next poll ({@link dev.invertingproxy.core.ProxyEngine#next}):
 * write it with {@link #writeTo}.
 *
 * @since 0.1
 */
public interface NextRequest {
  /** The request's ID. */
  String id();

  /**
   * Writes the request's metadata headers and the request in HTTP/1.1 wire format, its body
   * streaming from the client. If writing fails, the request is offered again when none of its
   * body was used, else its client gets 502. If the client's body fails (malformed, stalled, cut,
   * too large), the request is withdrawn and its client answered (400, 408, 413, nothing if it
   * left); what was written is flushed before the failure is thrown, so that the transport cuts the
   * answer and the agent never sees the request complete.
   */
  void writeTo(AgentReadSink sink) throws IOException;

  /** Gives the request back without writing it (the answer could not be started). */
  void giveBack(String why);

  /**
   * True if writing may wait for the client's body (a body that is not empty): write such a
   * request on a thread that may block. A request without a body is written at once.
   */
  boolean waitsForClient();
}
