package dev.invertingproxy.core.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The protocol's vocabulary and codecs: endpoints, capabilities, the ID list. */
class ProtocolVocabularyTest {

  @Test
  @DisplayName("an endpoint is found by the end of the request path, under any mount prefix")
  void endpointsMatchByPathEnd() {
    assertThat(AgentEndpoint.matching("/agent/pending")).hasValue(AgentEndpoint.PENDING);
    assertThat(AgentEndpoint.matching("/tunnel/x/agent/next")).hasValue(AgentEndpoint.NEXT);
    assertThat(AgentEndpoint.matching("/agent/response")).hasValue(AgentEndpoint.RESPONSE);
    assertThat(AgentEndpoint.matching("/agent/other")).isEmpty();
    assertThat(AgentEndpoint.LEAVE.method()).isEqualTo("POST");
    assertThat(AgentEndpoint.PENDING).hasToString("GET agent/pending");
  }

  @Test
  @DisplayName("capabilities: parsed case-insensitively, blanks ignored; this proxy's list formatted in order")
  void capabilities() {
    Capabilities parsed = Capabilities.parse(" Cancel-Notices,, next-request ,");
    assertThat(parsed.has(Capabilities.CANCEL_NOTICES)).isTrue();
    assertThat(parsed.has(Capabilities.NEXT_REQUEST)).isTrue();
    assertThat(parsed.has(Capabilities.LEAVE_NOTICE)).isFalse();
    assertThat(Capabilities.parse(null)).isEqualTo(Capabilities.NONE);
    assertThat(Capabilities.parse("  ")).isEqualTo(Capabilities.NONE);
    assertThat(Capabilities.OFFERED.format()).isEqualTo("cancel-notices, next-request, leave-notice");
    assertThat(Capabilities.parse(Capabilities.OFFERED.format())).isEqualTo(Capabilities.OFFERED);
  }

  @Test
  @DisplayName("ID list: what the proxy encodes the agent decodes, escapes included")
  void idListRoundTrip() throws IOException {
    List<String> ids = List.of("a", "0f1e2d", "with \"quote\" and \\ and \u00e9");
    byte[] json = RequestIdList.encode(ids);
    assertThat(decode(new String(json, StandardCharsets.UTF_8))).isEqualTo(ids);
    assertThat(new String(RequestIdList.encode(List.of()), StandardCharsets.UTF_8)).isEqualTo("[]");
  }

  @Test
  @DisplayName("ID list: empty, white space and null mean none; anything else but strings is an error")
  void idListLenientButStrict() throws IOException {
    assertThat(decode("")).isEmpty();
    assertThat(decode(" \r\n")).isEmpty();
    assertThat(decode("null")).isEmpty();
    assertThat(decode(" [ \"x\" ] ")).containsExactly("x");
    for (String bad : List.of("[1]", "{}", "[\"a\"] x", "[\"a\"", "\"a\"")) {
      assertThatThrownBy(() -> decode(bad)).as(bad).isInstanceOf(IOException.class).hasMessageStartingWith("agent/pending: ");
    }
  }

  @Test
  @DisplayName("ID list: a body over the limit is refused, not buffered")
  void idListBounded() {
    byte[] huge = new byte[RequestIdList.MAX_BYTES + 10];
    java.util.Arrays.fill(huge, (byte) ' ');
    assertThatThrownBy(() -> RequestIdList.decode(new ByteArrayInputStream(huge), "agent/pending"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("exceeds " + RequestIdList.MAX_BYTES + " bytes");
  }

  private static List<String> decode(String body) throws IOException {
    return RequestIdList.decode(
        new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)), "agent/pending");
  }
}
