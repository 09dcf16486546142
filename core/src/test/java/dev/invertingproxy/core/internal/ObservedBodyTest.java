package dev.invertingproxy.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.ClientGoneException;
import dev.invertingproxy.Headers;
import dev.invertingproxy.InvertingProxyException;
import dev.invertingproxy.LimitExceededException;
import dev.invertingproxy.MalformedMessageException;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.core.ErrorMapping;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Failures of the client's side of a body are reported as the client's, typed, and once. */
class ObservedBodyTest {
  private final List<String> events = new ArrayList<>();
  private final List<InvertingProxyException> failures = new ArrayList<>();

  private final ObservedBody.Observer observer =
      new ObservedBody.Observer() {
        @Override
        public void started() {
          events.add("started");
        }

        @Override
        public void ended() {
          events.add("ended");
        }

        @Override
        public void exceeded() {
          events.add("exceeded");
        }

        @Override
        public void failed(InvertingProxyException failure) {
          events.add("failed");
          failures.add(failure);
        }
      };

  /** Two bytes, then {@code failure} on every later read. */
  private static MessageBody failingAfterTwoBytes(Exception failure) {
    InputStream failing =
        new InputStream() {
          @Override
          public int read() throws IOException {
            if (failure instanceof IOException io) {
              throw io;
            }
            throw (RuntimeException) failure;
          }
        };
    return MessageBody.of(
        new SequenceInputStream(new ByteArrayInputStream(new byte[] {'a', 'b'}), failing),
        -1,
        Headers::empty);
  }

  @Test
  void aTypedFailureOfTheClientsStreamIsToldOnceAndThrownAsTheClients() throws IOException {
    MalformedMessageException malformed = new MalformedMessageException("malformed request body: x");
    InputStream in = new ObservedBody(failingAfterTwoBytes(malformed), -1, observer).stream();
    assertThat(in.readNBytes(2)).containsExactly('a', 'b');

    assertThatThrownBy(in::read)
        .isInstanceOfSatisfying(
            ObservedBody.ClientBodyException.class,
            e -> assertThat(e.failure()).isSameAs(malformed));
    assertThatThrownBy(in::read).isInstanceOf(ObservedBody.ClientBodyException.class);

    assertThat(events).containsExactly("started", "failed");
    assertThat(ErrorMapping.status(failures.get(0))).isEqualTo(400);
  }

  @Test
  void aClientThatLeftIsToldAsGone() {
    ClientGoneException gone = new ClientGoneException("the client left");
    InputStream in = new ObservedBody(failingAfterTwoBytes(gone), -1, observer).stream();
    assertThatThrownBy(() -> in.readNBytes(10)).isInstanceOf(ObservedBody.ClientBodyException.class);
    assertThat(failures).containsExactly(gone);
  }

  @Test
  void anUntypedFailureIsABodyThatCouldNotBeRead() {
    InputStream in =
        new ObservedBody(failingAfterTwoBytes(new IOException("boom")), -1, observer).stream();
    assertThatThrownBy(() -> in.readNBytes(10)).isInstanceOf(ObservedBody.ClientBodyException.class);
    assertThat(failures).singleElement().isInstanceOf(BadRequestException.class);
    assertThat(failures.get(0).getMessage()).isEqualTo("the request body could not be read: boom");
  }

  @Test
  void aBodyPastTheLimitIsExceededNotFailed() {
    MessageBody body = MessageBody.of(new ByteArrayInputStream(new byte[10]), -1, Headers::empty);
    InputStream in = new ObservedBody(body, 5, observer).stream();
    assertThatThrownBy(() -> in.readNBytes(10))
        .isInstanceOfSatisfying(
            ObservedBody.ClientBodyException.class,
            e -> {
              assertThat(e.failure()).isInstanceOf(LimitExceededException.class);
              assertThat(ErrorMapping.status(e.failure())).isEqualTo(413);
            });
    assertThat(events).containsExactly("started", "exceeded");
  }

  @Test
  void aWholeBodyEnds() throws IOException {
    InputStream in = new ObservedBody(MessageBody.of(new byte[] {1, 2, 3}), -1, observer).stream();
    assertThat(in.readAllBytes()).hasSize(3);
    assertThat(events).containsExactly("started", "ended");
    assertThat(failures).isEmpty();
  }
}
