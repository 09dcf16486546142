package dev.invertingproxy;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The rendezvous between parked client requests and agents, per backend.
 *
 * <p>Delivery semantics, pinned down by the storage conformance kit:
 *
 * <ul>
 *   <li>an ID is offered to one {@link #awaitPending} caller; if it is not claimed within the
 *       storage's re-offer delay it may be offered again, so callers tolerate duplicates;
 *   <li>{@link #claim} of a request whose body has not started to stream may be repeated (agents
 *       retry reads); once a byte of its body was served to one claimer, another claim is
 *       refused;
 *   <li>one response per request: a second {@link #deliver} is refused with {@link
 *       DuplicateResponseException} and the first is unaffected.
 * </ul>
 *
 * <p>Implementations are thread-safe.
 *
 * @since 0.1
 */
public interface RequestBroker {

  /**
   * Parks {@code request} until an agent of its backend claims and answers it.
   *
   * @param body the request body, streamed to the claiming agent
   * @param listener receives the response or the failure
   * @throws LimitExceededException if the backend's queue is full
   * @throws StorageException if the storage failed
   */
  PendingExchange submit(ParkedRequest request, MessageBody body, ResponseListener listener);

  /**
   * Waits, without parking a thread, for IDs of requests pending for {@code backendId}.
   *
   * @return a future completed with the IDs available (all that are available at once), or with an
   *     empty list after {@code maxWait}; cancelling it stops the wait
   */
  CompletableFuture<List<String>> awaitPending(String backendId, Duration maxWait);

  /**
   * Like {@link #awaitPending(String, Duration)}, completing with at most {@code maxIds} IDs; the
   * others stay pending for other polls. The default ignores the bound: callers must cope with
   * more (the proxy's next polls claim the first they can; the rest are offered again after the
   * re-offer delay).
   */
  default CompletableFuture<List<String>> awaitPending(
      String backendId, Duration maxWait, int maxIds) {
    return awaitPending(backendId, maxWait);
  }

  /**
   * Returns the request parked under that ID, for an agent about to answer it.
   *
   * @throws UnknownRequestException if no such request waits for a response (never existed,
   *     cancelled or expired)
   * @throws DuplicateResponseException if its response is being or was already delivered
   */
  ParkedRequest awaitingResponse(String backendId, String requestId);

  /**
   * Waits, without parking a thread, for cancel notices of {@code backendId}: the IDs of requests
   * an agent had claimed and whose clients left (or that expired) before they were answered.
   *
   * @return a future completed with the IDs cancelled since the last call (each ID once), or with
   *     an empty list after {@code maxWait}; cancelling it stops the wait
   */
  CompletableFuture<List<String>> awaitCancelled(String backendId, Duration maxWait);

  /**
   * Hands a pending request to an agent.
   *
   * @throws UnknownRequestException if no such request is parked for {@code backendId}
   * @throws RequestConflictException if its body already streamed to another claim
   */
  ClaimedRequest claim(String backendId, String requestId);

  /**
   * Gives back a claimed request whose agent failed before answering (its connection broke before
   * a response head arrived). If none of its body has streamed yet and it was not given back
   * before, it is offered again to the backend's agents; otherwise it ends with {@code failure}
   * (its listener's {@code onFailure}). Does nothing if the request is not claimed (already
   * answered, cancelled, unknown).
   *
   * @return true if the request is offered again
   */
  boolean release(String backendId, String requestId, InvertingProxyException failure);

  /**
   * Delivers the response to a request; returns once {@code body} has been relayed to the client.
   *
   * @throws UnknownRequestException if no such request is parked for {@code backendId}
   * @throws DuplicateResponseException if a response was already delivered
   * @throws ClientGoneException if the client left
   * @throws IOException if reading {@code body} failed; the client's response is then aborted
   */
  void deliver(String backendId, String requestId, ResponseHead head, MessageBody body)
      throws IOException;
}
