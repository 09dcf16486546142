package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.BadRequestException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RequestTargetsTest {

  @ParameterizedTest
  @ValueSource(
      strings = {
        "/foo/../bar",
        "/foo/..",
        "/..",
        "/foo/./bar",
        "/foo/.",
        "/foo/%2e%2e/bar",
        "/foo/%2E%2E/bar",
        "/foo/.%2e/bar",
        "/foo/%2e./bar",
        "/foo/%2e/bar",
        "/foo/..%2fbar",
        "/foo/..%2Fbar",
        "/foo/..%5cbar",
        "/foo/%252e%252e/bar",
        "/foo/%25252e%25252e/bar",
        "/foo/..%252fbar",
        "/foo/..;/bar",
        "/foo/..;jsessionid=1/bar",
        "/foo/%2e%2e;x/bar",
        "/foo/..\\bar",
        "/foo\\..\\bar",
        "/foo/../bar?q=1",
        "/foo/..#frag",
        "http://host/foo/../bar",
        "HTTPS://host:8443/foo/%2e%2e/bar?x",
      })
  void dotSegmentsInEverySpellingAreRefused(String target) {
    assertThat(RequestTargets.refusal(target)).hasValueSatisfying(
        reason -> assertThat(reason).contains("dot segment"));
    assertThatThrownBy(() -> RequestTargets.check(target))
        .isInstanceOf(BadRequestException.class)
        .hasMessageContaining("dot segment");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "/",
        "*",
        "/foo/bar",
        "/foo/...",
        "/foo/.well-known/x",
        "/foo/a..b",
        "/foo/..a",
        "/foo/a.",
        "//agent/pending",
        "/a//b",
        "/a%2Fb",
        "/a%2e",
        "/a%2ex",
        "/foo?x=/../..",
        "/foo?%2e%2e",
        "/%",
        "/%2",
        "/%zz",
        "/foo;..",
        "http://host",
        "http://host?q=/..",
        "http://host/foo/bar",
      })
  void otherTargetsPass(String target) {
    assertThat(RequestTargets.refusal(target)).isEmpty();
  }

  @org.junit.jupiter.api.Test
  void endlessEncodingIsRefused() {
    String target = "/%" + "25".repeat(12) + "2e";
    assertThat(RequestTargets.refusal(target)).hasValueSatisfying(
        reason -> assertThat(reason).contains("percent-encoded"));
  }
}
