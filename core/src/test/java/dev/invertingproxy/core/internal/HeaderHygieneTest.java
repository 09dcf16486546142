package dev.invertingproxy.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import org.junit.jupiter.api.Test;

class HeaderHygieneTest {
  @Test
  void removesHopByHopAndFieldsNamedInConnection() {
    Headers in =
        Headers.of(
            "Host", "h",
            "Connection", "keep-alive, X-Private",
            "connection", "Other",
            "X-Private", "secret",
            "other", "also",
            "Keep-Alive", "5",
            "Proxy-Connection", "keep-alive",
            "Transfer-Encoding", "chunked",
            "Upgrade", "h2c",
            "Trailer", "X-T",
            "Proxy-Authorization", "Basic x",
            "X-Kept", "1");
    Headers out = HeaderHygiene.withoutHopByHop(in, true);
    assertThat(out.fields()).extracting(Header::name).containsExactly("Host", "X-Kept");
  }

  @Test
  void keepsTeTrailersOnRequestsOnly() {
    Headers in = Headers.of("TE", "trailers", "X", "1");
    assertThat(HeaderHygiene.withoutHopByHop(in, true).contains("TE")).isTrue();
    assertThat(HeaderHygiene.withoutHopByHop(in, false).contains("TE")).isFalse();
    assertThat(HeaderHygiene.withoutHopByHop(Headers.of("TE", "gzip"), true).contains("TE")).isFalse();
  }

  @Test
  void keepsContentLengthAndOrder() {
    Headers in = Headers.of("B", "1", "Content-Length", "3", "A", "2");
    assertThat(HeaderHygiene.withoutHopByHop(in, false)).isEqualTo(in);
  }

  @Test
  void stripsProtocolHeadersInAnyCase() {
    Headers in =
        Headers.of(
            "X-Inverting-Proxy-User-ID", "mallory",
            "x-inverting-proxy-backend-id", "b",
            "X-INVERTING-PROXY-anything", "z",
            "X-Inverting-Prox", "kept");
    assertThat(HeaderHygiene.withoutProtocolHeaders(in).fields())
        .extracting(Header::name)
        .containsExactly("X-Inverting-Prox");
  }

  @Test
  void appendsForwardedFor() {
    Headers in = Headers.of("X-Forwarded-For", "1.1.1.1", "x-forwarded-for", "2.2.2.2", "X-Forwarded-Proto", "ftp");
    Headers out = HeaderHygiene.withForwarded(in, "127.0.0.1", "https", "pub.example");
    assertThat(out.all("X-Forwarded-For")).containsExactly("1.1.1.1, 2.2.2.2, 127.0.0.1");
    assertThat(out.all("X-Forwarded-Proto")).containsExactly("https");
    assertThat(out.all("X-Forwarded-Host")).containsExactly("pub.example");
  }

  @Test
  void requestIdsAreLongAndDistinct() {
    String a = RequestIds.next();
    String b = RequestIds.next();
    assertThat(a).matches("[0-9a-f]{32}");
    assertThat(a).isNotEqualTo(b);
  }
}
