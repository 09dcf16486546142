package dev.invertingproxy.samples;

import dev.invertingproxy.AgentLoop;
import dev.invertingproxy.core.DefaultAgentLoop;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The stand-alone agent, with the reference agent's essential flags. */
@Command(
    name = "agent",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Runs an agent beside a private backend: it connects out to the proxy, collects the "
          + "requests parked for its backend ID, forwards them to http://HOST:PORT and posts the "
          + "responses back. Flags as for Google's Go agent. Runs until SIGTERM or Ctrl-C, then "
          + "finishes the requests in flight (within --graceful-shutdown-timeout; a second signal "
          + "stops at once). Exits with 0 if every request finished, 1 if some were cut.",
      ""
    })
final class AgentCommand implements Callable<Integer> {
  /** Our proxy's long poll is 25 s, the Go server's 30 s; the agent's bound must be above both. */
  private static final Duration LONGEST_PROXY_POLL = Duration.ofSeconds(30);

  /** A host (name, IPv4 or bracketed IPv6), maybe a port and a path: a URL missing its scheme. */
  private static final Pattern HOST_FIRST =
      Pattern.compile("(?:[A-Za-z0-9][A-Za-z0-9.-]*|\\[[0-9A-Fa-f:.]+\\])(?::\\d+)?(?:/.*)?");

  @Spec CommandSpec spec;

  @Option(
      names = "--proxy",
      required = true,
      paramLabel = "URL",
      description =
          "The proxy's base URL, ending with '/': agent calls go to URL + agent/pending etc. "
              + "For 'inverting-proxy proxy' that is http://HOST:PORT/. No user:password@ in "
              + "it: use --token or --token-file.")
  String proxy;

  @Option(
      names = "--backend",
      required = true,
      paramLabel = "ID",
      description = "The backend ID this agent serves (X-Inverting-Proxy-Backend-ID).")
  String backendId;

  @Option(
      names = "--host",
      paramLabel = "HOST:PORT",
      defaultValue = "localhost:8080",
      description = "The backend, always reached over http:// (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(
      names = "--proxy-timeout",
      paramLabel = "D",
      defaultValue = "60s",
      converter = GoDuration.Converter.class,
      description =
          "How long one long poll of the proxy may take (default: ${DEFAULT-VALUE}); keep it above"
              + " the proxy's long poll (25 s here, 30 s for the Go server).")
  Duration proxyTimeout;

  @Option(
      names = "--request-forwarding-timeout",
      paramLabel = "D",
      defaultValue = "0",
      converter = GoDuration.Converter.class,
      description =
          "Bound on a whole exchange with the backend, body included. 0 (the default) means "
              + "none here, so streams are never cut (in the Go agent, 0 means the proxy "
              + "time-out).")
  Duration requestForwardingTimeout;

  @Option(
      names = "--backend-keep-alive",
      paramLabel = "D",
      defaultValue = "1s",
      converter = GoDuration.Converter.class,
      description =
          "How long an idle connection to the backend is kept for the next request (default: "
              + "${DEFAULT-VALUE}; 0: one request per connection). Keep it below the backend's own "
              + "idle time-out.")
  Duration backendKeepAlive;

  @Option(
      names = "--graceful-shutdown-timeout",
      paramLabel = "D",
      defaultValue = "30s",
      converter = GoDuration.Converter.class,
      description =
          "On SIGTERM or Ctrl-C, how long to wait for the requests in flight to finish after "
              + "polling stops (default: ${DEFAULT-VALUE}; 0: do not wait). Requests still in "
              + "flight then are cut, and the agent says so and exits with 1.")
  Duration gracefulShutdownTimeout;

  @Option(
      names = "--forward-user-id",
      description =
          "Pass the proxy's X-Inverting-Proxy-User-ID on to the backend (replacing any such "
              + "header of the request).")
  boolean forwardUserId;

  @Option(
      names = "--token",
      paramLabel = "T",
      defaultValue = "${env:INVERTING_PROXY_AGENT_TOKEN}",
      description =
          "Send Authorization: Bearer T on every call to the proxy (its --agent-token). Default: "
              + "the environment variable INVERTING_PROXY_AGENT_TOKEN, if set (keeps the token out "
              + "of the process list).")
  String token;

  @Option(
      names = "--token-file",
      paramLabel = "PATH",
      description =
          "Read the bearer token from this file, again whenever it changes (a rotated OIDC ID "
              + "token, say); it must be readable at start. Instead of --token (and of "
              + "INVERTING_PROXY_AGENT_TOKEN).")
  java.nio.file.Path tokenFile;

  /**
   * The proxy's base URL, checked; a missing trailing '/' is added. Credentials in it are refused
   * (they would be printed and logged with the URL), and no message repeats a query or fragment.
   */
  URI proxyUrl() {
    if (Secrets.userInfo(proxy).isPresent()) {
      throw usage(
          "Invalid value for option '--proxy': credentials in the URL are not supported; use "
              + "--token or --token-file");
    }
    if (proxy.contains("?") || proxy.contains("#")) {
      throw usage(
          "Invalid value for option '--proxy': the URL has a query or fragment (not shown); give "
              + "the proxy's base URL, such as http://proxy.example:8080/");
    }
    if (!proxy.contains("://") && HOST_FIRST.matcher(proxy).matches()) {
      throw usage(
          "Invalid value for option '--proxy': '"
              + proxy
              + "' has no scheme; write http://"
              + proxy
              + (proxy.contains("/") ? "" : "/")
              + " (or https://...)");
    }
    URI uri;
    try {
      uri = new URI(proxy);
    } catch (URISyntaxException e) {
      // not e.getMessage(): it repeats the whole input, a token in the query included
      throw usage(
          "Invalid value for option '--proxy': not a URL: "
              + e.getReason()
              + (e.getIndex() >= 0 ? " at index " + e.getIndex() : ""));
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
      throw usage(
          "Invalid value for option '--proxy': '"
              + proxy
              + "' is not an absolute http:// or https:// URL such as http://proxy.example:8080/");
    }
    if (!uri.getRawPath().endsWith("/")) {
      uri = URI.create(proxy + "/");
    }
    return uri;
  }

  /** The backend, {@code http://HOST:PORT}, checked. */
  URI backendUrl() {
    if (Secrets.userInfo(host).isPresent()) {
      throw usage(
          "Invalid value for option '--host': credentials are not supported; give HOST:PORT");
    }
    if (host.contains("://")) {
      throw usage(
          "Invalid value for option '--host': '"
              + host
              + "' has a scheme; give HOST:PORT (the agent always uses http://)");
    }
    URI uri;
    try {
      uri = new URI("http://" + host);
    } catch (URISyntaxException e) {
      throw usage("Invalid value for option '--host': '" + host + "' is not HOST:PORT");
    }
    if (uri.getHost() == null
        || !uri.getRawPath().isEmpty()
        || uri.getRawQuery() != null
        || uri.getRawFragment() != null
        || uri.getRawUserInfo() != null) {
      throw usage("Invalid value for option '--host': '" + host + "' is not HOST:PORT");
    }
    return uri;
  }

  /** Checks the flags together; picocli checked each one. */
  void validate() {
    proxyUrl();
    backendUrl();
    if (backendId.isBlank()) {
      throw usage("Invalid value for option '--backend': empty backend ID");
    }
    if (proxyTimeout.isZero()) {
      throw usage("Invalid value for option '--proxy-timeout': must be more than 0");
    }
    if (token != null && token.isBlank() && !environmentTokenOverridden()) {
      throw usage(
          tokenFromEnvironment()
              ? ProxyCommand.TOKEN_VARIABLE
                  + " is set but empty: unset it, or set it to the agent's token"
              : "Invalid value for option '--token': empty token");
    }
    if (tokenFile != null && spec.commandLine().getParseResult().hasMatchedOption("--token")) {
      throw usage(
          "--token and --token-file exclude each other: give the token on the command line or "
              + "in a file, not both");
    }
    if (tokenFile != null) {
      checkTokenFile();
    }
  }

  /**
   * The token file must be there and readable at start (a typo in its path is a usage error, not
   * an agent that starts and is refused); what it holds is read at each change while running.
   */
  private void checkTokenFile() {
    String problem = null;
    if (Files.isDirectory(tokenFile)) {
      problem = "it is a directory";
    } else {
      try (InputStream in = Files.newInputStream(tokenFile)) {
        // opened: readable
      } catch (NoSuchFileException e) {
        problem = "no such file";
      } catch (AccessDeniedException e) {
        problem = "permission denied";
      } catch (IOException e) {
        problem = String.valueOf(e.getMessage());
      }
    }
    if (problem != null) {
      throw usage(
          "Invalid value for option '--token-file': cannot read " + tokenFile + ": " + problem);
    }
  }

  /** Whether the token came from INVERTING_PROXY_AGENT_TOKEN (the default of --token). */
  private boolean tokenFromEnvironment() {
    return token != null && !spec.commandLine().getParseResult().hasMatchedOption("--token");
  }

  /**
   * Whether the token came from INVERTING_PROXY_AGENT_TOKEN while --token-file was given: the
   * file wins (a flag given is more specific than the environment).
   */
  private boolean environmentTokenOverridden() {
    return tokenFile != null && tokenFromEnvironment();
  }

  @Override
  public Integer call() throws Exception {
    validate();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    URI proxyUrl = proxyUrl();
    URI backend = backendUrl();

    if (!proxy.endsWith("/")) {
      err.println("note: --proxy does not end with '/'; using " + proxyUrl);
    }
    if (proxyTimeout.compareTo(LONGEST_PROXY_POLL) <= 0) {
      err.println(
          "WARNING: --proxy-timeout "
              + GoDuration.format(proxyTimeout)
              + " is not above the proxy's long poll (25 s here, 30 s for the Go server): polls "
              + "will time out and request IDs may be lost.");
    }
    if (environmentTokenOverridden()) {
      err.println(
          "note: --token-file given: the token in INVERTING_PROXY_AGENT_TOKEN is not used.");
    }
    if (token == null && tokenFile == null) {
      err.println(
          "note: no --token: the agent sends no credential; a proxy that requires agent tokens "
              + "answers 401 (this project's proxy does unless started with "
              + "--allow-anonymous-agents).");
    }
    err.flush();

    Lifecycle lifecycle = Lifecycle.onSignals(err);
    DefaultAgentLoop agent;
    try {
      DefaultAgentLoop.Builder builder =
          DefaultAgentLoop.builder()
              .proxy(proxyUrl)
              .backendId(backendId)
              .backendUrl(backend)
              .pollTimeout(proxyTimeout)
              .backendTotalTimeout(requestForwardingTimeout)
              .backendKeepAlive(backendKeepAlive)
              .drainTimeout(gracefulShutdownTimeout)
              .forwardUserId(forwardUserId);
      if (tokenFile != null) {
        builder.proxyHeaders(dev.invertingproxy.core.AgentCredentials.bearerFromFile(tokenFile));
      } else if (token != null) {
        builder.bearerToken(token);
      }
      agent = builder.build();
      DefaultAgentLoop started = agent;
      lifecycle.started("agent", () -> stop(started));
      agent.start();
    } catch (Exception e) {
      lifecycle.abort();
      throw e;
    }
    out.println(
        "Agent started for backend "
            + backendId
            + ": polling "
            + proxyUrl
            + ", forwarding to "
            + backend);
    out.flush();
    Thread watch = new Thread(() -> reportConnection(agent, proxyUrl, out), "agent-status");
    watch.setDaemon(true);
    watch.start();
    return lifecycle.awaitStop() ? 0 : 1;
  }

  /**
   * Stops the agent, waiting up to --graceful-shutdown-timeout for the requests in flight.
   *
   * @throws Lifecycle.IncompleteStop if some were cut (their clients get no complete response)
   */
  private void stop(DefaultAgentLoop agent) throws Lifecycle.IncompleteStop {
    if (!agent.close(gracefulShutdownTimeout)) {
      throw new Lifecycle.IncompleteStop(
          gracefulShutdownTimeout.isZero()
              ? "requests in flight were cut (--graceful-shutdown-timeout 0: no wait)"
              : "requests still in flight after --graceful-shutdown-timeout "
                  + GoDuration.format(gracefulShutdownTimeout)
                  + " were cut");
    }
  }

  /** Prints a line whenever the agent's connection to the proxy comes or goes. */
  private void reportConnection(DefaultAgentLoop agent, URI proxyUrl, PrintWriter out) {
    boolean connected = false;
    try {
      while (true) {
        boolean now = agent.isConnected();
        if (now != connected && agent.state() == AgentLoop.State.RUNNING) {
          connected = now;
          out.println(
              now
                  ? "Agent connected to " + proxyUrl + " for backend " + backendId
                  : "Agent lost the connection to " + proxyUrl + "; retrying");
          out.flush();
        }
        Thread.sleep(100);
      }
    } catch (InterruptedException stop) {
      Thread.currentThread().interrupt();
    }
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }
}
