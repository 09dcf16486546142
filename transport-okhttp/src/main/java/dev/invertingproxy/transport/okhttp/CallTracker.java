package dev.invertingproxy.transport.okhttp;

import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.Call;
import okhttp3.OkHttpClient;
import okhttp3.Request;

/**
 * The transport's calls in flight, so that closing the transport cancels them (a blocked long poll
 * ends at once), and no call starts once it is closed.
 *
 * <p>This class is thread-safe.
 */
final class CallTracker {
  private final Set<Call> calls = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Creates a tracked call; {@link #done} untracks it. */
  Call newCall(OkHttpClient client, Request request) throws IOException {
    if (closed.get()) {
      throw new IOException("transport is closed");
    }
    Call call = client.newCall(request);
    calls.add(call);
    if (closed.get()) { // close() ran meanwhile and may have missed this call
      calls.remove(call);
      call.cancel();
      throw new IOException("transport is closed");
    }
    return call;
  }

  /** The call ended; nothing to cancel any more. */
  void done(Call call) {
    calls.remove(call);
  }

  /** Cancels every call in flight; true the first time only. */
  boolean close() {
    if (!closed.compareAndSet(false, true)) {
      return false;
    }
    for (Call call : calls) {
      call.cancel();
    }
    calls.clear();
    return true;
  }

  boolean isClosed() {
    return closed.get();
  }
}
