package dev.invertingproxy.transport.okhttp;

import java.io.IOException;
import okhttp3.Interceptor;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * The backend client's only network interceptor. It undoes what OkHttp's bridge added to the
 * request and shields the backend's response from OkHttp's follow-up logic.
 *
 * <p>Request: the headers are replaced by the exact list carried in the request's {@link
 * ForwardTag} tag (original order, case and values, plus the framing header); so no {@code
 * User-Agent}, {@code Accept-Encoding}, {@code Connection} or cookie is added.
 *
 * <p>Response: its status line and headers are recorded in the tag exactly as received. Three
 * responses would otherwise be acted on by OkHttp's retry-and-follow-up step, which runs above the
 * network interceptors: a {@code 407} (it throws, as no HTTP proxy is in use), a {@code 503} with
 * {@code Retry-After: 0} and, for a client that retries on connection failures (replayable
 * requests), a {@code 408} (it repeats the request). The copy handed up is defused (407 and 408
 * become 400; Retry-After removed); the transport builds its {@code ResponseHead} from the tag, so
 * callers see the backend's response unchanged.
 *
 * <p>This class is thread-safe (stateless; state lives in the per-call tag).
 */
final class ExactRequestInterceptor implements Interceptor {

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request request = chain.request();
    ForwardTag tag = request.tag(ForwardTag.class);
    if (tag == null) {
      return chain.proceed(request); // not ours: leave it alone
    }
    Response response = chain.proceed(request.newBuilder().headers(tag.headers).build());
    tag.record(response);
    if (response.code() == 407 || response.code() == 408) {
      return response.newBuilder().code(400).build();
    }
    if (response.code() == 503 && response.header("Retry-After") != null) {
      return response.newBuilder().removeHeader("Retry-After").build();
    }
    return response;
  }

  /**
   * One forwarded request's state, carried as the OkHttp request tag: the exact header list to
   * send, and the network response's status line and headers as received.
   *
   * <p>This class is thread-safe (fields are published through volatile writes).
   */
  static final class ForwardTag {
    final okhttp3.Headers headers;
    private volatile @Nullable Protocol protocol;
    private volatile int code;
    private volatile String message = "";
    private volatile okhttp3.@Nullable Headers responseHeaders;

    ForwardTag(okhttp3.Headers headers) {
      this.headers = headers;
    }

    void record(Response response) {
      protocol = response.protocol();
      message = response.message();
      responseHeaders = response.headers();
      code = response.code();
    }

    /** Returns the recorded status code, or 0 if no network response was recorded. */
    int code() {
      return code;
    }

    String message() {
      return message;
    }

    @Nullable Protocol protocol() {
      return protocol;
    }

    okhttp3.@Nullable Headers responseHeaders() {
      return responseHeaders;
    }
  }
}
