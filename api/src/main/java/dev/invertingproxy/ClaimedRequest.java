package dev.invertingproxy;

import java.util.Objects;

/**
 * A parked request as an agent receives it: the request and its body, streamed from the client.
 *
 * @param request the parked request
 * @param body the request body; read it once
 * @since 0.1
 */
public record ClaimedRequest(ParkedRequest request, MessageBody body) {
  public ClaimedRequest {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(body, "body");
  }
}
