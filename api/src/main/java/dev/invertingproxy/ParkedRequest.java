package dev.invertingproxy;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A client request as the proxy parks it for an agent: its ID, the backend it is for, its head
 * (already cleaned by the proxy) and who sent it. The body travels separately, as a stream.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class ParkedRequest {
  private final String id;
  private final String backendId;
  private final RequestHead head;
  private final Instant startTime;
  private final @Nullable String userId;

  /**
   * @param id the request ID, unguessable
   * @param backendId the backend whose agents may take it
   * @param head the request head as the backend should receive it
   * @param startTime when the proxy received the request
   * @param userId the end user's identity, or null if unknown
   */
  public ParkedRequest(
      String id, String backendId, RequestHead head, Instant startTime, @Nullable String userId) {
    this.id = Objects.requireNonNull(id, "id");
    this.backendId = Objects.requireNonNull(backendId, "backendId");
    this.head = Objects.requireNonNull(head, "head");
    this.startTime = Objects.requireNonNull(startTime, "startTime");
    this.userId = userId;
  }

  public String id() {
    return id;
  }

  public String backendId() {
    return backendId;
  }

  public RequestHead head() {
    return head;
  }

  public Instant startTime() {
    return startTime;
  }

  /** Returns the end user's identity, if the proxy knows it. */
  public Optional<String> userId() {
    return Optional.ofNullable(userId);
  }

  @Override
  public String toString() {
    return "ParkedRequest{" + backendId + "/" + id + " " + head.method() + " " + head.target() + "}";
  }
}
