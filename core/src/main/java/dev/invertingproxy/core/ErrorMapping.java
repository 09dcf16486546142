package dev.invertingproxy.core;

import dev.invertingproxy.AgentFailedException;
import dev.invertingproxy.BackendUnavailableException;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.BodyStalledException;
import dev.invertingproxy.BodyTooLargeException;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.ForbiddenException;
import dev.invertingproxy.HeadTooLargeException;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.ProxyTimeoutException;
import dev.invertingproxy.QueueFullException;
import dev.invertingproxy.RequestConflictException;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.TooManyPollsException;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.UnknownRequestException;
import dev.invertingproxy.UnsupportedRequestException;

/**
 * The one place where failures become HTTP statuses, for client and agent calls alike.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class ErrorMapping {
  private ErrorMapping() {}

  /** Returns the status that reports {@code failure}; 500 for anything unexpected. */
  public static int status(Throwable failure) {
    if (failure instanceof QueueFullException) {
      return 503;
    } else if (failure instanceof TooManyPollsException) {
      return 429;
    } else if (failure instanceof BodyTooLargeException) {
      return 413;
    } else if (failure instanceof HeadTooLargeException) {
      return 431;
    } else if (failure instanceof BodyStalledException) {
      return 408;
    } else if (failure instanceof LimitExceededException limit) {
      return legacyStatus(limit);
    } else if (failure instanceof MalformedMessageException
        || failure instanceof BadRequestException) {
      return 400;
    } else if (failure instanceof UnauthenticatedException) {
      return 401;
    } else if (failure instanceof ForbiddenException) {
      return 403;
    } else if (failure instanceof UnknownRequestException) {
      return 404;
    } else if (failure instanceof RequestConflictException) {
      return 409;
    } else if (failure instanceof ClientGoneException) {
      return 410;
    } else if (failure instanceof AgentFailedException) {
      return 502;
    } else if (failure instanceof BackendUnavailableException
        || failure instanceof StorageException) {
      return 503;
    } else if (failure instanceof ProxyTimeoutException) {
      return 504;
    } else if (failure instanceof UnsupportedRequestException) {
      return 501;
    }
    return 500;
  }

  /** A limit thrown with the status-taking constructor of 0.1, by code not written for 0.1's types. */
  @SuppressWarnings("deprecation")
  private static int legacyStatus(LimitExceededException limit) {
    return limit.status();
  }

  /** Returns a one-line reason for a response body: the message, or a generic text for 500. */
  public static String reason(Throwable failure) {
    int status = status(failure);
    String message = failure.getMessage();
    if (status == 500 || message == null || message.isBlank()) {
      return "internal error (see the proxy's log)";
    }
    return message.replace('\r', ' ').replace('\n', ' ');
  }
}
