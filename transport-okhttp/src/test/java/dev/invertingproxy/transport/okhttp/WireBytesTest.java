package dev.invertingproxy.transport.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import org.junit.jupiter.api.Test;

/** Byte-level checks of the backend exchange, below what MockWebServer shows. */
class WireBytesTest {
  private static final String OK = "HTTP/1.1 204 No Content\r\n\r\n";

  private static OkHttpAgentTransport transport(RawBackend backend) {
    return OkHttpAgentTransport.create(
        TestConfigs.config(TestConfigs.UNUSED_BACKEND, backend.uri(), Headers::empty));
  }

  @Test
  void requestHeadIsByteForByteTheGivenOne() throws Exception {
    try (RawBackend backend = new RawBackend(OK);
        OkHttpAgentTransport transport = transport(backend)) {
      RequestHead head =
          new RequestHead(
              "GET",
              "/a%2Fb?q=%20x&r=a+b",
              "HTTP/1.1",
              Headers.of(
                  "Host", "public.example.com",
                  "user-agent", "curl/8.0",
                  "ACCEPT", "*/*",
                  "X-Dup", "1",
                  "X-Dup", "2",
                  "X-Utf8", "caf\u00c3\u00a9"));

      transport.forward(head, MessageBody.empty()).close();

      assertThat(backend.requestHead())
          .isEqualTo(
              "GET /a%2Fb?q=%20x&r=a+b HTTP/1.1\r\n"
                  + "Host: public.example.com\r\n"
                  + "user-agent: curl/8.0\r\n"
                  + "ACCEPT: */*\r\n"
                  + "X-Dup: 1\r\n"
                  + "X-Dup: 2\r\n"
                  + "X-Utf8: caf\u00c3\u00a9\r\n"
                  + "\r\n");
    }
  }

  @Test
  void loneObsTextByteGoesOutAsUtf8OfItsLatin1Character() throws Exception {
    try (RawBackend backend = new RawBackend(OK);
        OkHttpAgentTransport transport = transport(backend)) {
      RequestHead head =
          new RequestHead("GET", "/", "HTTP/1.1", Headers.of("Host", "h", "X-Latin", "caf\u00e9"));

      transport.forward(head, MessageBody.empty()).close();

      assertThat(backend.requestHead()).contains("X-Latin: caf\u00c3\u00a9\r\n");
    }
  }

  @Test
  void responseHeadIsHandedOnAsByteStrings() throws Exception {
    try (RawBackend backend =
            new RawBackend(
                "HTTP/1.1 200 Tr\u00c3\u00a8s bien\r\n"
                    + "x-name: caf\u00c3\u00a9\r\n"
                    + "Content-Length: 2\r\n"
                    + "\r\n"
                    + "ok");
        OkHttpAgentTransport transport = transport(backend);
        BackendResponse response =
            transport.forward(
                new RequestHead("GET", "/", "HTTP/1.1", Headers.of("Host", "h")),
                MessageBody.empty())) {
      assertThat(response.head().reason()).isEqualTo("Tr\u00c3\u00a8s bien");
      assertThat(response.head().headers())
          .isEqualTo(Headers.of("x-name", "caf\u00c3\u00a9", "Content-Length", "2"));
      assertThat(response.body().stream().readAllBytes()).containsExactly('o', 'k');
    }
  }
}
