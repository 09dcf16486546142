package dev.invertingproxy.core;

import dev.invertingproxy.AgentFailedException;
import dev.invertingproxy.BackendUnavailableException;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.BodyStalledException;
import dev.invertingproxy.BodyTooLargeException;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.ForbiddenException;
import dev.invertingproxy.HeadTooLargeException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MethodNotAllowedException;
import dev.invertingproxy.NoAgentException;
import dev.invertingproxy.NotFoundException;
import dev.invertingproxy.ProxyTimeoutException;
import dev.invertingproxy.QueueFullException;
import dev.invertingproxy.RequestConflictException;
import dev.invertingproxy.ShuttingDownException;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.TooManyPollsException;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.UnknownRequestException;
import dev.invertingproxy.UnsupportedRequestException;

/**
 * The one place where failures become HTTP answers (status, reason and headers), for client, agent
 * and admin calls alike. Each failure has its type; no storage or codec names a status:
 *
 * <ul>
 *   <li>400: {@link MalformedMessageException}, {@link BadRequestException}
 *   <li>401: {@link UnauthenticatedException}, with {@code WWW-Authenticate: Bearer}
 *   <li>403: {@link ForbiddenException}
 *   <li>404: {@link NotFoundException}, {@link UnknownRequestException}
 *   <li>405: {@link MethodNotAllowedException}, with {@code Allow} naming its methods
 *   <li>408: {@link BodyStalledException}
 *   <li>409: {@link RequestConflictException}
 *   <li>410: {@link ClientGoneException}
 *   <li>413: {@link BodyTooLargeException}
 *   <li>429: {@link TooManyPollsException}
 *   <li>431: {@link HeadTooLargeException}
 *   <li>501: {@link UnsupportedRequestException}
 *   <li>502: {@link AgentFailedException}
 *   <li>503: {@link QueueFullException}, with {@code Retry-After: 1}; {@link NoAgentException}
 *       and {@link ShuttingDownException}, with {@code Retry-After: 5}; {@link
 *       BackendUnavailableException}, {@link StorageException}
 *   <li>504: {@link ProxyTimeoutException}
 *   <li>a {@link LimitExceededException} made with its deprecated status-taking constructor: that
 *       status, with {@code Retry-After: 1} if it is 503 (a full queue)
 *   <li>500: anything else, with a generic reason (the message stays in the proxy's log)
 * </ul>
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class ErrorMapping {
  private ErrorMapping() {}

  /**
   * Returns how to answer {@code failure}: its {@link #status(Throwable) status}, its {@link
   * #reason(Throwable) reason} and the headers its type calls for.
   */
  public static ErrorAnswer answer(Throwable failure) {
    int status = status(failure);
    return new ErrorAnswer(status, reason(failure, status), headers(failure, status));
  }

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
    } else if (failure instanceof NotFoundException
        || failure instanceof UnknownRequestException) {
      return 404;
    } else if (failure instanceof MethodNotAllowedException) {
      return 405;
    } else if (failure instanceof RequestConflictException) {
      return 409;
    } else if (failure instanceof ClientGoneException) {
      return 410;
    } else if (failure instanceof AgentFailedException) {
      return 502;
    } else if (failure instanceof BackendUnavailableException
        || failure instanceof StorageException
        || failure instanceof ShuttingDownException) {
      return 503;
    } else if (failure instanceof ProxyTimeoutException) {
      return 504;
    } else if (failure instanceof UnsupportedRequestException) {
      return 501;
    }
    return 500;
  }

  /** Returns the headers the type of {@code failure} calls for; {@code status} is its status. */
  private static Headers headers(Throwable failure, int status) {
    if (failure instanceof UnauthenticatedException) {
      return Headers.of("WWW-Authenticate", "Bearer");
    } else if (failure instanceof MethodNotAllowedException method) {
      return Headers.of("Allow", method.allowed());
    } else if (failure instanceof QueueFullException
        || (failure instanceof LimitExceededException && status == 503)) {
      return Headers.of("Retry-After", "1"); // the queue drains as agents read: come back soon
    } else if (failure instanceof NoAgentException || failure instanceof ShuttingDownException) {
      return Headers.of("Retry-After", "5"); // an agent reconnects, a node restarts: in seconds
    }
    return Headers.empty();
  }

  /**
   * The status of a limit made with the deprecated status-taking constructor (code written before
   * the typed limits); 500 for a subclass of its own that names none.
   */
  @SuppressWarnings("deprecation")
  private static int legacyStatus(LimitExceededException limit) {
    int status = limit.status();
    return status >= 100 && status <= 599 ? status : 500;
  }

  /** Returns a one-line reason for a response body: the message, or a generic text for 500. */
  public static String reason(Throwable failure) {
    return reason(failure, status(failure));
  }

  private static String reason(Throwable failure, int status) {
    String message = failure.getMessage();
    if (status == 500 || message == null || message.isBlank()) {
      return "internal error (see the proxy's log)";
    }
    return message.replace('\r', ' ').replace('\n', ' ');
  }
}
