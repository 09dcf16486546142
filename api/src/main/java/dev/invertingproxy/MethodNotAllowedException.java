package dev.invertingproxy;

import java.util.Objects;

/**
 * A call used a method its endpoint does not accept (405, with {@code Allow} naming the methods it
 * does).
 *
 * @since 0.1
 */
public class MethodNotAllowedException extends InvertingProxyException {
  private static final long serialVersionUID = 1L;

  private final String allowed;

  /**
   * @param allowed the methods the endpoint accepts, as the {@code Allow} header lists them, e.g.
   *     {@code "GET, POST"}
   */
  public MethodNotAllowedException(String allowed, String message) {
    super(message);
    this.allowed = Objects.requireNonNull(allowed, "allowed");
  }

  /** Returns the methods the endpoint accepts, as the {@code Allow} header lists them. */
  public String allowed() {
    return allowed;
  }
}
