package dev.invertingproxy.core.spi;

/**
 * Something a transport cancels, such as a parked request whose client left ({@link
 * dev.invertingproxy.core.ProxyEngine#handle}).
 *
 * @since 0.1
 */
@FunctionalInterface
public interface Cancellable {
  /** Does nothing. */
  Cancellable NONE = () -> {};

  /** Cancels; idempotent. */
  void cancel();
}
