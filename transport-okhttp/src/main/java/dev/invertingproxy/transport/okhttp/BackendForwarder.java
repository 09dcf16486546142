package dev.invertingproxy.transport.okhttp;

import dev.invertingproxy.AgentConfig;
import dev.invertingproxy.Header;
import dev.invertingproxy.Headers;
import dev.invertingproxy.MessageBody;
import dev.invertingproxy.RequestHead;
import dev.invertingproxy.ResponseHead;
import dev.invertingproxy.spi.AgentTransport.BackendResponse;
import dev.invertingproxy.spi.CancelSignal;
import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.Proxy;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import okhttp3.Authenticator;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.CookieJar;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * The agent's forwarder to the private backend: the <b>backend client</b> speaks HTTP/1.1 only,
 * directly (no proxy), never follows redirects, has no cookie jar, no cache, no authenticator, none
 * of the base client's interceptors, no call timeout unless {@link
 * AgentConfig#backendTotalTimeout()} is set, and {@link AgentConfig#backendIdleTimeout()} as its
 * read and write timeout. It sends the request's headers exactly as given (order, case, {@code
 * Host}), adding nothing but the framing header, and returns the response head and raw body exactly
 * as received. Its connections have their own pool, idle ones closed after {@link
 * AgentConfig#backendKeepAlive()}. It retries only a request that may be sent twice (no body; GET,
 * HEAD, OPTIONS, TRACE or an {@code Idempotency-Key}), and only when the connection failed before
 * any response: a pooled connection the backend had closed.
 *
 * <p>Known limits of the backend request line: OkHttp's {@link HttpUrl} normalizes some targets
 * before sending them: dot segments ({@code /a/../b}) are removed (never met in use: {@code
 * DefaultAgentLoop} refuses such targets before forwarding, see {@code RequestTargets}), and
 * characters that are not valid in a URL (space, {@code "}, {@code <}, {@code >}, {@code ^}, {@code `}, <code>{</code>,
 * <code>|</code>, <code>}</code> and non-ASCII in the path; {@code '} and those in the query) are
 * percent-encoded; a backslash becomes a slash. Valid targets, including percent-encoded ones such
 * as {@code /a%2Fb?q=%20x}, are sent byte for byte.
 *
 * <p>Header text: {@link Headers} hold byte strings (one char per byte, as core's codec reads and
 * writes them) while OkHttp reads and writes header lines as UTF-8. Non-ASCII values that are valid
 * UTF-8 cross this transport byte for byte in both directions; a request value that is not valid
 * UTF-8 (a lone obs-text byte) is sent as the UTF-8 encoding of its ISO-8859-1 characters, and such
 * a response value arrives with OkHttp's replacement character (EF BF BD).
 *
 * <p>This class is thread-safe.
 */
final class BackendForwarder {
  private static final Logger LOG = System.getLogger(BackendForwarder.class.getName());
  private static final String CONTENT_LENGTH = "Content-Length";
  private static final String TRANSFER_ENCODING = "Transfer-Encoding";

  private final OkHttpClient client;

  /**
   * The backend client for requests that may be sent twice (see {@link #replayable}): OkHttp sends
   * them again on another connection when a pooled one turns out closed by the backend (every
   * server closes idle keep-alive connections: a request can cross the close). Same pool and
   * dispatcher as {@link #client}.
   */
  private final OkHttpClient replayingClient;
  private final CallTracker calls;
  private final String backendOrigin;
  private final String backendAuthority;

  BackendForwarder(AgentConfig config, OkHttpClient base, CallTracker calls) {
    this.calls = calls;
    HttpUrl backend = OkHttpAgentTransport.httpUrl(config.backendUrl().toString(), "backend");
    String origin =
        backend
            .newBuilder()
            .username("")
            .password("")
            .encodedPath("/")
            .query(null)
            .fragment(null)
            .build()
            .toString();
    this.backendOrigin = origin.substring(0, origin.length() - 1); // http://host[:port]
    this.backendAuthority = backendOrigin.substring(backendOrigin.indexOf("://") + 3);

    OkHttpClient.Builder builder =
        base.newBuilder()
            .followRedirects(false)
            .followSslRedirects(false)
            .retryOnConnectionFailure(false)
            .callTimeout(config.backendTotalTimeout()) // off by default: flowing streams go on
            .readTimeout(config.backendIdleTimeout()) // silence, not length, is bounded
            .writeTimeout(config.backendIdleTimeout())
            .connectionPool(pool(config))
            .protocols(List.of(Protocol.HTTP_1_1))
            .proxy(Proxy.NO_PROXY)
            .cookieJar(CookieJar.NO_COOKIES)
            .authenticator(Authenticator.NONE)
            .cache(null);
    // The base's interceptors are meant for the proxy (credentials, logging): keep them off the
    // backend's requests, and make ours the last network interceptor.
    builder.interceptors().clear();
    builder.networkInterceptors().clear();
    builder.addNetworkInterceptor(new ExactRequestInterceptor());
    this.client = builder.build();
    this.replayingClient = client.newBuilder().retryOnConnectionFailure(true).build();
  }

  /**
   * The backend's connections have their own pool: idle ones are closed after {@link
   * AgentConfig#backendKeepAlive()}, before the backend closes them under a request. (OkHttp
   * checks an idle connection before reuse only for requests other than GET, and only after 10 s
   * idle.)
   */
  private static ConnectionPool pool(AgentConfig config) {
    long keepAlive = config.backendKeepAlive().toNanos();
    if (keepAlive == 0) {
      return new ConnectionPool(0, 1, TimeUnit.NANOSECONDS); // closed as soon as idle
    }
    return new ConnectionPool(config.maxInFlight(), keepAlive, TimeUnit.NANOSECONDS);
  }

  /** The client used for calls to the backend. */
  OkHttpClient client() {
    return client;
  }

  /** Returns the backend's origin, {@code http://host[:port]}. */
  String origin() {
    return backendOrigin;
  }

  /** Closes the idle backend connections. */
  void close() {
    client.connectionPool().evictAll();
  }

  /**
   * Forwards a request; {@code cancel} aborts the backend call, before or after the response head.
   *
   * <p>The URL is the backend's scheme, host and port followed by {@code head.target()} (origin
   * form; an absolute-form target contributes its path and query). Headers are sent exactly as in
   * {@code head.headers()}; the framing header follows {@code body}: a length of 0 or more gives
   * {@code Content-Length}, -1 gives {@code Transfer-Encoding: chunked}, at the position of the
   * original framing header if there was one. Two exceptions keep the message valid: a body of
   * length 0 without an original framing header is sent without one (a request without framing has
   * no body), and a request without {@code Host} gets the backend's authority as {@code Host}.
   *
   * <p>{@code GET} and {@code HEAD}: OkHttp cannot send a body with them. An empty body (length 0,
   * or -1 and immediately at its end) is sent as no body, with {@code Content-Length: 0} in place
   * of an original framing header; a non-empty body fails with an {@link IOException} rather than
   * being dropped silently.
   *
   * @throws IOException if the backend cannot be reached, the request cannot be expressed (see
   *     above), or the transport is closed
   */
  BackendResponse forward(RequestHead head, MessageBody body, CancelSignal cancel)
      throws IOException {
    Objects.requireNonNull(head, "head");
    Objects.requireNonNull(body, "body");
    String method = head.method();
    HttpUrl url = backendUrl(head.target());
    long length = body.contentLength();
    Headers original = head.headers();
    boolean hadFraming = original.contains(CONTENT_LENGTH) || original.contains(TRANSFER_ENCODING);

    RequestBody requestBody;
    String framingName;
    String framingValue;
    boolean replayable = replayable(method, original, length);
    if (method.equals("GET") || method.equals("HEAD")) {
      if (length > 0 || (length == -1 && !isAtEnd(body))) {
        throw new IOException(
            "cannot forward a " + method + " request with a body: OkHttp does not send one");
      }
      requestBody = null;
      framingName = hadFraming ? CONTENT_LENGTH : null;
      framingValue = "0";
    } else {
      // An empty body OkHttp may send again (a streaming body is one-shot: never sent twice).
      requestBody =
          replayable ? RequestBody.create(new byte[0]) : new StreamingRequestBody(body.stream(), length);
      if (length == 0 && !hadFraming) {
        framingName = null;
        framingValue = "";
      } else if (length >= 0) {
        framingName = CONTENT_LENGTH;
        framingValue = Long.toString(length);
      } else {
        framingName = TRANSFER_ENCODING;
        framingValue = "chunked";
      }
    }

    okhttp3.Headers networkHeaders = networkHeaders(original, framingName, framingValue);
    ExactRequestInterceptor.ForwardTag tag = new ExactRequestInterceptor.ForwardTag(networkHeaders);
    Request request;
    try {
      request =
          new Request.Builder()
              .url(url)
              .method(method, requestBody)
              // Any Accept-Encoding turns off OkHttp's transparent gzip; the network interceptor
              // replaces the headers with the exact list, so this placeholder is never sent.
              .header("Accept-Encoding", "identity")
              .tag(ExactRequestInterceptor.ForwardTag.class, tag)
              .build();
    } catch (IllegalArgumentException e) {
      throw new IOException("cannot forward method " + OkHeaders.printable(method), e);
    }

    long start = System.nanoTime();
    Call call = calls.newCall(replayable ? replayingClient : client, request);
    cancel.onCancel(call::cancel);
    Response response;
    try {
      response = call.execute();
    } catch (IOException | RuntimeException e) {
      calls.done(call);
      LOG.log(
          Level.DEBUG,
          () ->
              "forward "
                  + method
                  + " "
                  + url.encodedPath()
                  + " failed after "
                  + millisSince(start)
                  + " ms: "
                  + e);
      throw e;
    }
    ResponseHead responseHead;
    try {
      responseHead = responseHead(tag, response);
    } catch (RuntimeException e) {
      response.close();
      calls.done(call);
      throw new IOException("invalid response from the backend: " + e.getMessage(), e);
    }
    LOG.log(
        Level.DEBUG,
        () ->
            "forward "
                + method
                + " "
                + url.encodedPath()
                + ": "
                + responseHead.status()
                + " in "
                + millisSince(start)
                + " ms");
    return new OkHttpBackendResponse(call, response, responseHead, () -> calls.done(call));
  }

  /**
   * Whether a request may reach the backend twice, by Go's {@code net/http} rule: no body, and a
   * safe method (GET, HEAD, OPTIONS, TRACE) or an {@code Idempotency-Key} / {@code
   * X-Idempotency-Key} header. Only such a request is sent again when its connection fails before
   * any response; any other gets the failure (the proxy answers 502), since the backend may have
   * acted on it.
   */
  static boolean replayable(String method, Headers headers, long contentLength) {
    if (contentLength != 0) {
      return false;
    }
    return switch (method) {
      case "GET", "HEAD", "OPTIONS", "TRACE" -> true;
      default -> headers.contains("Idempotency-Key") || headers.contains("X-Idempotency-Key");
    };
  }

  /** Returns the backend URL for a raw request target. */
  HttpUrl backendUrl(String target) throws IOException {
    String pathAndQuery;
    if (target.startsWith("/")) {
      pathAndQuery = target;
    } else if (target.regionMatches(true, 0, "http://", 0, 7)
        || target.regionMatches(true, 0, "https://", 0, 8)) {
      int authority = target.indexOf("://") + 3;
      int end = authority;
      while (end < target.length() && "/?#".indexOf(target.charAt(end)) < 0) {
        end++;
      }
      String rest = target.substring(end);
      pathAndQuery = rest.startsWith("/") ? rest : "/" + rest;
    } else {
      throw new IOException(
          "cannot forward request target " + OkHeaders.printable(target) + ": not origin form");
    }
    HttpUrl url = HttpUrl.parse(backendOrigin + pathAndQuery);
    if (url == null) {
      throw new IOException("cannot forward request target " + OkHeaders.printable(target));
    }
    if (LOG.isLoggable(Level.DEBUG)) {
      String sent =
          url.encodedPath() + (url.encodedQuery() == null ? "" : "?" + url.encodedQuery());
      if (!sent.equals(pathAndQuery)) {
        LOG.log(
            Level.DEBUG, "request target normalized by OkHttp; path sent: " + url.encodedPath());
      }
    }
    return url;
  }

  /** Builds the header list sent to the backend: the original, with the framing header replaced. */
  private okhttp3.Headers networkHeaders(
      Headers original, @Nullable String framingName, String framingValue) throws IOException {
    okhttp3.Headers.Builder builder = new okhttp3.Headers.Builder();
    if (!original.contains("Host")) {
      builder.add("Host", backendAuthority);
    }
    boolean framingWritten = false;
    for (Header header : original.fields()) {
      if (header.is(CONTENT_LENGTH) || header.is(TRANSFER_ENCODING)) {
        if (!framingWritten && framingName != null) {
          // Keep the original name's case when it names the same framing.
          String name = header.is(framingName) ? header.name() : framingName;
          builder.add(name, framingValue);
          framingWritten = true;
        }
        continue;
      }
      OkHeaders.addExact(builder, header.name(), header.value());
    }
    if (!framingWritten && framingName != null) {
      builder.add(framingName, framingValue);
    }
    return builder.build();
  }

  private static ResponseHead responseHead(
      ExactRequestInterceptor.ForwardTag tag, Response response) {
    okhttp3.Headers headers = tag.responseHeaders();
    Protocol protocol = tag.protocol();
    int code = tag.code();
    String message = tag.message();
    if (headers == null || protocol == null || code == 0) {
      headers = response.headers();
      protocol = response.protocol();
      code = response.code();
      message = response.message();
    }
    String version = protocol == Protocol.HTTP_1_0 ? "HTTP/1.0" : "HTTP/1.1";
    return new ResponseHead(
        version, code, OkHeaders.toByteString(message), OkHeaders.toApi(headers));
  }

  /** Returns true if a body of unknown length is already at its end (peeks one byte). */
  private static boolean isAtEnd(MessageBody body) throws IOException {
    InputStream in = body.stream();
    if (in.markSupported()) {
      in.mark(1);
      int b = in.read();
      in.reset();
      return b == -1;
    }
    if (in instanceof PushbackInputStream pushback) {
      int b = pushback.read();
      if (b == -1) {
        return true;
      }
      pushback.unread(b);
      return false;
    }
    // Cannot look ahead without losing the byte: a non-empty body fails the call anyway.
    return in.read() == -1;
  }

  private static long millisSince(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }
}
