package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.Headers;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentCredentialsTest {
  @Test
  void fixedToken() {
    assertThat(AgentCredentials.bearer("abc").get().first("Authorization")).contains("Bearer abc");
    assertThatThrownBy(() -> AgentCredentials.bearer(" ")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AgentCredentials.bearer("a\r\nX: y"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void suppliedTokenIsAskedPerCall() {
    AtomicInteger n = new AtomicInteger();
    Supplier<Headers> headers = AgentCredentials.bearer(() -> "t" + n.incrementAndGet());
    assertThat(headers.get().first("Authorization")).contains("Bearer t1");
    assertThat(headers.get().first("Authorization")).contains("Bearer t2");
  }

  @Test
  void tokenFileIsReadAgainWhenItChanges(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("token");
    Files.writeString(file, "first\n");
    Files.setLastModifiedTime(file, FileTime.from(Instant.parse("2026-01-01T00:00:00Z")));
    Supplier<Headers> headers = AgentCredentials.bearerFromFile(file);
    assertThat(headers.get().first("Authorization")).contains("Bearer first");
    Files.writeString(file, "  second  ");
    Files.setLastModifiedTime(file, FileTime.from(Instant.parse("2026-01-01T00:01:00Z")));
    assertThat(headers.get().first("Authorization")).contains("Bearer second");
    Files.delete(file);
    assertThatThrownBy(headers::get).isInstanceOf(UncheckedIOException.class);
  }
}
