package dev.invertingproxy;

import java.io.IOException;

/**
 * Receives the outcome of a parked request: exactly one of the two methods is called, at most
 * once.
 *
 * <p>Implementations must be thread-safe: they are called on the thread that delivers the
 * response or observes the failure.
 *
 * @since 0.1
 */
public interface ResponseListener {

  /**
   * Called with the response head and its body. The body streams while this method runs: the
   * listener copies it to the client and returns when the body has ended.
   *
   * @throws ClientGoneException if the client can no longer be written to
   * @throws IOException if reading {@code body} failed (the response is then incomplete)
   */
  void onResponse(ResponseHead head, MessageBody body) throws IOException;

  /** Called when the request ends without a response (storage failure, backend deleted). */
  void onFailure(InvertingProxyException cause);
}
