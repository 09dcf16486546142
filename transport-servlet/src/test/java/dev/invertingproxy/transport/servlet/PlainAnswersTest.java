package dev.invertingproxy.transport.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.Header;
import dev.invertingproxy.MethodNotAllowedException;
import dev.invertingproxy.QueueFullException;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.core.ErrorAnswer;
import dev.invertingproxy.core.ErrorMapping;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlainAnswersTest {

  /** What a servlet response was told, in order; a stand-in for the container's. */
  static final class Recorded {
    int status = 200;
    boolean committed;
    final List<Header> headers = new ArrayList<>();
    final ByteArrayOutputStream body = new ByteArrayOutputStream();

    HttpServletResponse response() {
      ServletOutputStream out =
          new ServletOutputStream() {
            @Override
            public boolean isReady() {
              return true;
            }

            @Override
            public void setWriteListener(WriteListener listener) {}

            @Override
            public void write(int b) {
              body.write(b);
            }
          };
      return (HttpServletResponse)
          Proxy.newProxyInstance(
              HttpServletResponse.class.getClassLoader(),
              new Class<?>[] {HttpServletResponse.class},
              (proxy, method, args) -> {
                switch (method.getName()) {
                  case "isCommitted" -> {
                    return committed;
                  }
                  case "reset" -> {
                    status = 200;
                    headers.clear();
                    body.reset();
                  }
                  case "setStatus" -> status = (int) args[0];
                  case "setContentType" -> headers.add(new Header("Content-Type", (String) args[0]));
                  case "setContentLengthLong" ->
                      headers.add(new Header("Content-Length", Long.toString((long) args[0])));
                  case "addHeader", "setHeader" ->
                      headers.add(new Header((String) args[0], (String) args[1]));
                  case "getOutputStream" -> {
                    return out;
                  }
                  default -> throw new UnsupportedOperationException(method.getName());
                }
                return null;
              });
    }
  }

  @Test
  void writesTheTextAnswerOfTheMappedFailure() throws IOException {
    for (Throwable failure :
        List.of(
            new UnauthenticatedException("agent credential missing"),
            new MethodNotAllowedException("GET, POST", "use GET or POST"),
            new QueueFullException("too many requests are waiting for backend b1 (limit 2)"),
            new IllegalStateException("secret"))) {
      Recorded recorded = new Recorded();
      HttpServletResponse response = recorded.response();
      response.setHeader("X-Before", "dropped");

      PlainAnswers.error(response, failure);

      ErrorAnswer expected = ErrorMapping.answer(failure);
      assertThat(recorded.status).isEqualTo(expected.head().status());
      assertThat(recorded.headers).isEqualTo(expected.head().headers().fields());
      assertThat(recorded.body.toByteArray()).isEqualTo(expected.body().stream().readAllBytes());
    }
  }

  @Test
  void theAnswerIsOneTextLineThatIsNotCached() throws IOException {
    Recorded recorded = new Recorded();

    PlainAnswers.error(recorded.response(), new UnauthenticatedException("no token"));

    assertThat(recorded.status).isEqualTo(401);
    assertThat(recorded.headers)
        .containsExactly(
            new Header("Content-Type", "text/plain; charset=utf-8"),
            new Header("Content-Length", "9"),
            new Header("Cache-Control", "no-store"),
            new Header("WWW-Authenticate", "Bearer"));
    assertThat(recorded.body.toString(StandardCharsets.UTF_8)).isEqualTo("no token\n");
  }

  @Test
  void anExplicitStatusHasNoExtraHeaders() throws IOException {
    Recorded recorded = new Recorded();

    PlainAnswers.error(recorded.response(), 500, "the backend registry failed: boom");

    assertThat(recorded.status).isEqualTo(500);
    assertThat(recorded.headers).extracting(Header::name)
        .containsExactly("Content-Type", "Content-Length", "Cache-Control");
    assertThat(recorded.body.toString(StandardCharsets.UTF_8))
        .isEqualTo("the backend registry failed: boom\n");
  }

  @Test
  void aCommittedResponseIsLeftAlone() throws IOException {
    Recorded recorded = new Recorded();
    recorded.committed = true;

    PlainAnswers.error(recorded.response(), new UnauthenticatedException("no token"));

    assertThat(recorded.status).isEqualTo(200);
    assertThat(recorded.headers).isEmpty();
    assertThat(recorded.body.size()).isZero();
  }
}
