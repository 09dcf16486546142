package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.Call;
import okhttp3.Response;

/**
 * A backend's response as it streams: the head as received, the raw body (not decompressed) and its
 * trailers once the body was read to its end.
 *
 * <p>This class is not thread-safe, except {@link #cancel()}, which may be called from any thread.
 */
final class OkHttpBackendResponse implements BackendResponse {
  private final Call call;
  private final Response response;
  private final ResponseHead head;
  private final Body body;
  private final Runnable onClose;
  private final AtomicBoolean closed = new AtomicBoolean();

  OkHttpBackendResponse(Call call, Response response, ResponseHead head, Runnable onClose) {
    this.call = call;
    this.response = response;
    this.head = head;
    this.onClose = onClose;
    this.body = new Body();
  }

  @Override
  public ResponseHead head() {
    return head;
  }

  @Override
  public MessageBody body() {
    return body;
  }

  @Override
  public void cancel() {
    call.cancel();
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      try {
        response.close();
      } finally {
        onClose.run();
      }
    }
  }

  @Override
  public String toString() {
    return "BackendResponse[" + head.status() + "]";
  }

  /** The response body: the same stream on every call; closing it closes the response. */
  private final class Body implements MessageBody {
    private final InputStream stream;

    Body() {
      this.stream =
          new ResponseStream(response.body().byteStream(), OkHttpBackendResponse.this::close);
    }

    @Override
    public long contentLength() {
      // OkHttp reports 0 for bodyless responses (HEAD, 204, 304), -1 for chunked or
      // close-delimited bodies, else the declared Content-Length.
      return response.body().contentLength();
    }

    @Override
    public InputStream stream() {
      return stream;
    }

    @Override
    public Headers trailers() {
      try {
        okhttp3.Headers trailers = response.peekTrailers();
        return trailers == null ? Headers.empty() : OkHeaders.toApi(trailers);
      } catch (IOException | IllegalStateException e) {
        return Headers.empty(); // body truncated or not read: no trailers
      }
    }

    @Override
    public void close() {
      OkHttpBackendResponse.this.close();
    }
  }
}
