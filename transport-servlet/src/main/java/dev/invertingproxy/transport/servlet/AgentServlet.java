package dev.invertingproxy.transport.servlet;

import dev.invertingproxy.MethodNotAllowedException;
import dev.invertingproxy.NotFoundException;
import dev.invertingproxy.core.ErrorAnswer;
import dev.invertingproxy.core.ErrorMapping;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.core.RequestTargets;
import dev.invertingproxy.core.protocol.AgentEndpoint;
import dev.invertingproxy.core.protocol.Capabilities;
import dev.invertingproxy.core.protocol.ProtocolHeaders;
import dev.invertingproxy.core.protocol.RequestIdList;
import dev.invertingproxy.core.spi.AgentCall;
import dev.invertingproxy.core.spi.AgentReadSink;
import dev.invertingproxy.core.spi.NextRequest;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * The agent-facing endpoints of the v1 protocol, for the reference Go agent and ours alike:
 *
 * <ul>
 *   <li>{@code GET {base}agent/pending}: long poll; a JSON array of request IDs ({@code []} when
 *       none arrived in time). Asynchronous: no container thread waits.
 *   <li>{@code GET {base}agent/request}: one parked request in HTTP/1.1 wire format, with {@code
 *       X-Inverting-Proxy-Request-Start-Time} and, if known, {@code X-Inverting-Proxy-User-ID}.
 *   <li>{@code POST {base}agent/response}: the backend's response in HTTP/1.1 wire format
 *       (chunked, with trailers), relayed to the client while it arrives.
 *   <li>{@code GET {base}agent/next} (extension {@code next-request}, announced likewise): long
 *       poll answered with one claimed request, as {@code agent/request} would, or {@code 204}.
 *   <li>{@code GET {base}agent/cancelled} (extension {@code cancel-notices}, announced in {@code
 *       X-Inverting-Proxy-Capabilities} on list answers): long poll for the IDs of requests whose
 *       clients left while an agent held them.
 *   <li>{@code POST {base}agent/leave} (extension {@code leave-notice}, announced likewise): the
 *       agent named by {@code X-Inverting-Proxy-Agent-ID} stopped polling and is going; {@code
 *       204}.
 * </ul>
 *
 * <p>Requests are matched by the end of their path, so the servlet may be mapped anywhere ({@code
 * /agent/*} or {@code /tunnel/*}). Errors are answered with a status and a one-line reason.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public class AgentServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private static final System.Logger LOGGER = System.getLogger(AgentServlet.class.getName());

  private final transient ProxyEngine engine;

  public AgentServlet(ProxyEngine engine) {
    this.engine = Objects.requireNonNull(engine, "engine");
  }

  @Override
  protected void service(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String path = request.getRequestURI();
    String method = request.getMethod();
    try {
      // The container mapped this call here after removing dot segments: refuse those, as the
      // client endpoint does, so that no spelling of a path reaches another endpoint than it names.
      RequestTargets.check(path);
      Optional<AgentEndpoint> endpoint = AgentEndpoint.matching(path);
      if (endpoint.isEmpty()) {
        throw new NotFoundException("no agent endpoint at " + path);
      }
      requireMethod(endpoint.get().method(), method);
      switch (endpoint.get()) {
        case PENDING -> longPoll(request, response, engine.pending(call(request)));
        case CANCELLED -> longPoll(request, response, engine.cancelled(call(request)));
        case NEXT -> next(request, response, engine.next(call(request)));
        case REQUEST -> read(request, response);
        case LEAVE -> {
          engine.leave(call(request));
          response.setStatus(204);
        }
        case RESPONSE -> {
          engine.postResponse(call(request), request.getInputStream());
          response.setStatus(200);
          response.setContentLength(0);
        }
      }
    } catch (IOException | RuntimeException e) {
      if (response.isCommitted()) {
        // Mid-stream: the agent must see the message cut, never a clean end.
        ContainerSupport.of(request).abort(request, response, null, e);
        LOGGER.log(Level.DEBUG, () -> "agent call " + method + " " + path + " cut: " + e);
        return;
      }
      ErrorAnswer answer = ErrorMapping.answer(e);
      // A broken agent connection is the agent's business; an unexpected failure is ours.
      boolean ours = answer.status() == 500 && !(e instanceof IOException);
      LOGGER.log(
          ours ? Level.WARNING : Level.DEBUG,
          () -> "agent call " + method + " " + path + " failed: " + e,
          ours ? e : null);
      PlainAnswers.write(response, answer);
    }
  }

  /** Answers a long poll when {@code ids} completes; no container thread waits meanwhile. */
  private void longPoll(
      HttpServletRequest request,
      HttpServletResponse response,
      CompletableFuture<List<String>> ids) {
    AsyncContext async = request.startAsync();
    // Not a cut-off: the engine answers first; this only frees a poll whose answer got lost.
    async.setTimeout(engine.longPollTimeout().toMillis() + 30_000);
    // An agent that left must not be handed IDs (they would wait for the re-offer delay).
    ContainerSupport.Watch watch =
        ContainerSupport.of(request).watchDisconnect(request, async, () -> ids.cancel(false));
    ids.whenComplete(
        (list, failure) -> {
          watch.stop();
          if (ids.isCancelled()) {
            return; // the agent left; its connection is closed
          }
          try {
            if (failure != null) {
              PlainAnswers.error(response, failure);
            } else {
              byte[] json = RequestIdList.encode(list);
              response.setStatus(200);
              response.setHeader(ProtocolHeaders.CAPABILITIES, Capabilities.OFFERED.format());
              response.setContentType("application/json");
              response.setContentLength(json.length);
              response.getOutputStream().write(json);
            }
          } catch (IOException | RuntimeException e) {
            LOGGER.log(Level.DEBUG, () -> "could not answer a poll: " + e);
          } finally {
            completeQuietly(async);
          }
        });
  }

  /**
   * Answers a next poll (extension {@code next-request}) with the request claimed for it, or 204
   * when none came. No container thread waits meanwhile; a request with a body is written on a
   * container thread (its body streams from the client while it is written), one without on the
   * thread that handed it over.
   */
  private void next(
      HttpServletRequest request,
      HttpServletResponse response,
      CompletableFuture<Optional<NextRequest>> next) {
    AsyncContext async = request.startAsync();
    async.setTimeout(engine.longPollTimeout().toMillis() + 30_000);
    ContainerSupport support = ContainerSupport.of(request);
    ContainerSupport.Watch watch =
        support.watchDisconnect(request, async, () -> next.cancel(false));
    next.whenComplete(
        (claimed, failure) -> {
          watch.stop();
          if (next.isCancelled()) {
            return; // the agent left; a request claimed meanwhile was offered again
          }
          if (failure == null && claimed.isPresent() && claimed.get().waitsForClient()) {
            // Its body streams from the client: on a container thread, which may block, and with
            // no time limit (an upload takes what it takes; the agent's reads are idle-bounded).
            try {
              async.setTimeout(0);
              async.start(() -> answerNext(request, response, async, claimed, failure));
            } catch (RuntimeException e) {
              claimed.get().giveBack("the proxy could not answer the agent's poll: " + e);
              LOGGER.log(Level.WARNING, "could not answer a next poll", e);
            }
          } else {
            // No body to wait for: answered at once on the completing thread, saving a hand-off.
            answerNext(request, response, async, claimed, failure);
          }
        });
  }

  private void answerNext(
      HttpServletRequest request,
      HttpServletResponse response,
      AsyncContext async,
      Optional<NextRequest> claimed,
      @Nullable Throwable failure) {
    try {
      if (failure != null) {
        PlainAnswers.error(response, failure);
      } else {
        AgentReadSink sink = sink(response);
        sink.header(ProtocolHeaders.CAPABILITIES, Capabilities.OFFERED.format());
        if (claimed.isPresent()) {
          claimed.get().writeTo(sink); // gives the request back itself if it fails
        } else {
          response.setStatus(204);
        }
      }
      async.complete();
    } catch (IOException | RuntimeException e) {
      if (response.isCommitted()) {
        ContainerSupport.of(request).abort(request, response, async, e);
      } else {
        try {
          PlainAnswers.error(response, e);
        } catch (IOException | RuntimeException ignored) {
          // the agent left
        }
        completeQuietly(async);
      }
      LOGGER.log(Level.DEBUG, () -> "next poll answer failed: " + e);
    }
  }

  private static void completeQuietly(AsyncContext async) {
    try {
      async.complete();
    } catch (IllegalStateException alreadyDone) {
      // timed out or the agent left
    }
  }

  private void read(HttpServletRequest request, HttpServletResponse response) throws IOException {
    engine.readRequest(call(request), sink(response));
  }

  /** Writes a request for an agent as the answer: metadata headers, then the wire format. */
  private static AgentReadSink sink(HttpServletResponse response) {
    return new AgentReadSink() {
      @Override
      public void header(String name, String value) {
        response.setHeader(name, value);
      }

      @Override
      public OutputStream body() throws IOException {
        response.setStatus(200);
        response.setContentType("text/plain");
        return response.getOutputStream();
      }
    };
  }

  private static AgentCall call(HttpServletRequest request) {
    return new AgentCall(
        ContainerSupport.of(request).requestHeaders(request), request.getRemoteAddr());
  }

  /** Throws unless {@code method} is the one expected (405, with {@code Allow}). */
  private static void requireMethod(String expected, String method) {
    if (!expected.equals(method)) {
      throw new MethodNotAllowedException(expected, "use " + expected + " here, not " + method);
    }
  }
}
