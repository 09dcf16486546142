/**
 * Public types of the inverting proxy ({@link dev.invertingproxy.BackendRegistry}, {@link
 * dev.invertingproxy.RequestBroker}, {@link dev.invertingproxy.AgentLoop} and their values) and
 * the plugin SPI in {@code dev.invertingproxy.spi}.
 */
module dev.invertingproxy {
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy;
  exports dev.invertingproxy.spi;
  // Argument checks shared by the builders; not API.
  exports dev.invertingproxy.internal to
      dev.invertingproxy.core;

}
