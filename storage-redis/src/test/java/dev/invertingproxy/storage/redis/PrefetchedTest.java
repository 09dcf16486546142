package dev.invertingproxy.storage.redis;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import org.junit.jupiter.api.Test;

/** Which response bodies travel inline with their head, and that none loses a byte. */
class PrefetchedTest {
  @Test
  void aSmallBodyThatIsAllThereIsWhole() throws Exception {
    Prefetched start = Prefetched.read(MessageBody.of("hello".getBytes(UTF_8)), 64);
    assertThat(start.whole()).isTrue();
    assertThat(new String(start.bytes(), UTF_8)).isEqualTo("hello");
  }

  @Test
  void anEmptyBodyIsWholeWithoutReading() throws Exception {
    Prefetched start = Prefetched.read(MessageBody.empty(), 64);
    assertThat(start.whole()).isTrue();
    assertThat(start.bytes()).isEmpty();
  }

  @Test
  void aBodyNotAllThereIsNeitherWaitedForNorTouched() throws Exception {
    // Two streams in sequence: available() covers only the first, as for bytes still on their way.
    InputStream arriving =
        new SequenceInputStream(
            new ByteArrayInputStream("hel".getBytes(UTF_8)),
            new ByteArrayInputStream("lo".getBytes(UTF_8)));
    MessageBody body = MessageBody.of(arriving, 5, Headers::empty);
    Prefetched start = Prefetched.read(body, 64);
    assertThat(start.whole()).isFalse();
    assertThat(start.rest()).isSameAs(body);
    assertThat(new String(start.rest().stream().readAllBytes(), UTF_8)).isEqualTo("hello");
  }

  @Test
  void aStreamThatFailsReportsItWhereAStreamedBodyWould() throws Exception {
    InputStream broken =
        new InputStream() {
          @Override
          public int read() throws IOException {
            throw new IOException("the agent left");
          }

          @Override
          public int available() throws IOException {
            throw new IOException("the agent left");
          }
        };
    Prefetched start = Prefetched.read(MessageBody.of(broken, 5, Headers::empty), 64);
    assertThat(start.whole()).isFalse();
    assertThatThrownBy(() -> start.rest().stream().read()).hasMessage("the agent left");
  }

  @Test
  void largeOrUnknownLengthBodiesAreLeftAlone() throws Exception {
    MessageBody large = MessageBody.of(new byte[100]);
    Prefetched start = Prefetched.read(large, 64);
    assertThat(start.whole()).isFalse();
    assertThat(start.rest()).isSameAs(large);

    MessageBody chunked =
        MessageBody.of(new ByteArrayInputStream("x".getBytes(UTF_8)), -1, Headers::empty);
    assertThat(Prefetched.read(chunked, 64).rest()).isSameAs(chunked);
  }
}
