package dev.invertingproxy.samples;

import org.eclipse.jetty.server.Server;

/** Starting an embedded Jetty so that a failed start leaves nothing running. */
final class JettyServers {
  private JettyServers() {}

  /** Starts {@code server}; if that fails, stops what did start and rethrows. */
  static void startOrStop(Server server) throws Exception {
    try {
      server.start();
    } catch (Exception e) {
      try {
        server.stop();
      } catch (Exception suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }
}
