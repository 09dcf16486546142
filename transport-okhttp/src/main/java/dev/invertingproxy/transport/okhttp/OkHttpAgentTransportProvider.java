package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.spi.AgentTransportProvider;

/**
 * Provides {@link OkHttpAgentTransport} under the name {@value #NAME}. Found by {@link
 * java.util.ServiceLoader}; the constructor does no work and never throws.
 *
 * <p>This class is thread-safe (it is stateless).
 *
 * @since 0.1
 */
public final class OkHttpAgentTransportProvider implements AgentTransportProvider {

  /** The provider's name. */
  public static final String NAME = "okhttp";

  /** Creates the provider; cheap, never throws. */
  public OkHttpAgentTransportProvider() {}

  @Override
  public String name() {
    return NAME;
  }

  /**
   * Creates a transport with its own {@link okhttp3.OkHttpClient}, shut down when the transport is
   * closed.
   */
  @Override
  public AgentTransport create(AgentConfig config) {
    return OkHttpAgentTransport.create(config);
  }

  @Override
  public String toString() {
    return "OkHttpAgentTransportProvider[" + NAME + "]";
  }
}
