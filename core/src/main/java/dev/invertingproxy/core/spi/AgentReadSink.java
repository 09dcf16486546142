package dev.invertingproxy.core.spi;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Where {@link dev.invertingproxy.core.ProxyEngine#readRequest} writes its answer to an agent: headers first, then the
 * parked request in HTTP/1.1 wire format.
 *
 * <p>Implementations are not thread-safe; one thread writes.
 *
 * @since 0.1
 */
public interface AgentReadSink {

  /** Sets a header of the answer; only before {@link #body()}. */
  void header(String name, String value);

  /**
   * Returns the answer's body stream. The engine flushes it while the body trickles, not at the end:
   * the transport ends the answer when the engine returns.
   */
  OutputStream body() throws IOException;
}
