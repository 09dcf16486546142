package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.AgentFailedException;
import dev.invertingproxy.BackendUnavailableException;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.BodyStalledException;
import dev.invertingproxy.BodyTooLargeException;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.DuplicateResponseException;
import dev.invertingproxy.ForbiddenException;
import dev.invertingproxy.HeadTooLargeException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MethodNotAllowedException;
import dev.invertingproxy.NotFoundException;
import dev.invertingproxy.ProxyTimeoutException;
import dev.invertingproxy.QueueFullException;
import dev.invertingproxy.RequestConflictException;
import dev.invertingproxy.StorageException;
import dev.invertingproxy.TooManyPollsException;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.UnknownRequestException;
import dev.invertingproxy.UnsupportedRequestException;
import java.io.IOException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ErrorMappingTest {

  static Stream<Arguments> failures() {
    return Stream.of(
        Arguments.of(new MalformedMessageException("bad framing"), 400, Headers.empty()),
        Arguments.of(new BadRequestException("missing header X"), 400, Headers.empty()),
        Arguments.of(
            new UnauthenticatedException("no token"), 401, Headers.of("WWW-Authenticate", "Bearer")),
        Arguments.of(new ForbiddenException("not yours"), 403, Headers.empty()),
        Arguments.of(new NotFoundException("no agent endpoint at /x"), 404, Headers.empty()),
        Arguments.of(new UnknownRequestException("no request r1"), 404, Headers.empty()),
        Arguments.of(
            new MethodNotAllowedException("GET, POST", "use GET or POST"),
            405,
            Headers.of("Allow", "GET, POST")),
        Arguments.of(new BodyStalledException("the request body stalled"), 408, Headers.empty()),
        Arguments.of(new RequestConflictException("already streamed"), 409, Headers.empty()),
        Arguments.of(new DuplicateResponseException("answered twice"), 409, Headers.empty()),
        Arguments.of(new ClientGoneException("the client left"), 410, Headers.empty()),
        Arguments.of(new BodyTooLargeException("body over 10 bytes"), 413, Headers.empty()),
        Arguments.of(new TooManyPollsException("too many polls"), 429, Headers.empty()),
        Arguments.of(new HeadTooLargeException("head over 10 bytes"), 431, Headers.empty()),
        Arguments.of(new UnsupportedRequestException("CONNECT"), 501, Headers.empty()),
        Arguments.of(new AgentFailedException("the agent failed"), 502, Headers.empty()),
        Arguments.of(
            new QueueFullException("too many requests are waiting"),
            503,
            Headers.of("Retry-After", "1")),
        Arguments.of(new BackendUnavailableException("no agent"), 503, Headers.empty()),
        Arguments.of(
            new dev.invertingproxy.NoAgentException("no agent is connected for backend b"),
            503,
            Headers.of("Retry-After", "5")),
        Arguments.of(
            new dev.invertingproxy.ShuttingDownException("the proxy is shutting down"),
            503,
            Headers.of("Retry-After", "5")),
        Arguments.of(new StorageException("Redis is down"), 503, Headers.empty()),
        Arguments.of(new ProxyTimeoutException("no response in time"), 504, Headers.empty()));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("failures")
  void eachTypeHasItsStatusReasonAndHeaders(Throwable failure, int status, Headers headers) {
    ErrorAnswer answer = ErrorMapping.answer(failure);

    assertThat(answer).isEqualTo(new ErrorAnswer(status, failure.getMessage(), headers));
    assertThat(ErrorMapping.status(failure)).isEqualTo(status);
    assertThat(ErrorMapping.reason(failure)).isEqualTo(failure.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("failures")
  @SuppressWarnings("deprecation")
  void typedLimitsStillTellTheirStatusAsTheMappingDoes(Throwable failure, int status, Headers h) {
    if (failure instanceof LimitExceededException limit) {
      assertThat(limit.status()).isEqualTo(status);
    }
  }

  @Test
  @SuppressWarnings("deprecation")
  void aLimitWithAStatusOfItsOwnKeepsIt() {
    assertThat(ErrorMapping.answer(new LimitExceededException(431, "too long")))
        .isEqualTo(new ErrorAnswer(431, "too long", Headers.empty()));
    // 503 was a full queue in 0.1: still answered with Retry-After, as the engine does.
    assertThat(ErrorMapping.answer(new LimitExceededException(503, "queue full")))
        .isEqualTo(new ErrorAnswer(503, "queue full", Headers.of("Retry-After", "1")));
  }

  @Test
  void aLimitSubclassThatNamesNoStatusIsAnInternalError() {
    LimitExceededException own = new LimitExceededException("a limit of a plugin's own") {};

    assertThat(ErrorMapping.answer(own).status()).isEqualTo(500);
  }

  @Test
  void anythingElseIs500WithAGenericReason() {
    for (Throwable failure :
        new Throwable[] {
          new IllegalStateException("secret detail"), new IOException("secret"), new Error("x")
        }) {
      ErrorAnswer answer = ErrorMapping.answer(failure);

      assertThat(answer.status()).isEqualTo(500);
      assertThat(answer.reason()).isEqualTo("internal error (see the proxy's log)");
      assertThat(answer.headers()).isEqualTo(Headers.empty());
    }
  }

  @Test
  void theReasonIsOneLineAndNeverBlank() {
    assertThat(ErrorMapping.answer(new BadRequestException("two\r\nlines")).reason())
        .isEqualTo("two  lines");
    assertThat(ErrorMapping.answer(new BadRequestException(" ")).reason())
        .isEqualTo("internal error (see the proxy's log)");
    assertThat(ErrorMapping.answer(new BadRequestException(" ")).status()).isEqualTo(400);
  }
}
