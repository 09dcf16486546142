package dev.invertingproxy.samples;

import dev.invertingproxy.auth.jwt.JwtAgentAuthenticator;
import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.Providers;
import dev.invertingproxy.core.ProxyEngine;
import dev.invertingproxy.StorageException;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The stand-alone proxy: agents at {@code /agent/...}, every other path relayed to one backend. */
@Command(
    name = "proxy",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Runs the proxy on one port (embedded Jetty). Agents connect to /agent/... (start them with "
          + "--proxy http://HOST:PORT/); every other path is relayed to the backend. Paths under "
          + "/agent/ are never relayed.",
      "Agents must authenticate: without --agent-token, --agent-token-file, the "
          + "--agent-jwks-url/--agent-issuer/--agent-audience trio or --allow-anonymous-agents "
          + "every agent call is refused with 401.",
      "The admin REST API (GET/POST /api/backends, DELETE /api/backends/ID) is always mounted; "
          + "paths under /api/ are never relayed. Admins present an --admin-token; without one "
          + "every admin call is refused with 401.",
      ""
    })
final class ProxyCommand implements Callable<Integer> {
  private static final int DEFAULT_REDIS_PORT = 6379;
  /** The default of {@code --agent-token} (and of the agent's {@code --token}). */
  static final String TOKEN_VARIABLE = "INVERTING_PROXY_AGENT_TOKEN";

  @Spec CommandSpec spec;

  @Option(
      names = "--port",
      required = true,
      paramLabel = "N",
      description = "The port to listen on; 0 picks a free one (printed at start).")
  int port;

  @Option(
      names = "--bind",
      paramLabel = "ADDR",
      defaultValue = "0.0.0.0",
      description = "The address to listen on (default: ${DEFAULT-VALUE}, all interfaces).")
  String bind;

  @Option(
      names = "--backend",
      paramLabel = "ID",
      defaultValue = "default",
      description =
          "The backend ID every client request goes to (default: ${DEFAULT-VALUE}); the agent "
              + "serving it starts with --backend ID.")
  String backendId;

  @Option(
      names = "--storage",
      paramLabel = "URI",
      defaultValue = "memory:",
      description =
          "Where parked requests live (default: ${DEFAULT-VALUE}): memory: for this process "
              + "alone, or redis://[:PASSWORD@]HOST:PORT[/DB] (rediss:// for TLS) to share them "
              + "with other proxy nodes on the same Redis.")
  String storage;

  @Option(
      names = "--agent-token",
      paramLabel = "T",
      defaultValue = "${env:INVERTING_PROXY_AGENT_TOKEN}",
      description =
          "A bearer token that agents may present (Authorization: Bearer T); repeat for several. "
              + "Default: the environment variable INVERTING_PROXY_AGENT_TOKEN, if set (keeps the "
              + "token out of the process list).")
  List<String> agentTokens = new ArrayList<>();

  @Option(
      names = "--agent-token-file",
      paramLabel = "PATH",
      description =
          "Named agent tokens: a file of IDENTITY TOKEN lines (white space between; blank lines "
              + "and lines starting with # ignored). An agent presenting TOKEN has that identity, "
              + "the backendUser to register its backend with. Read once at start: restart the "
              + "proxy after changing it. Combines with --agent-token (whose tokens are named "
              + "token-1, token-2, ... in order) and the --agent-jwks-url trio.")
  Path agentTokenFile;

  /** The pairs of {@link #agentTokenFile}, read by {@link #validate()}. */
  List<AgentTokenFile.Entry> namedTokens = List.of();

  @Option(
      names = "--agent-jwks-url",
      paramLabel = "URL",
      description =
          "Also accept agents presenting an OIDC/JWT ID token (Authorization: Bearer JWT) signed "
              + "by a key of this JWKS (the issuer's jwks_uri; RS256 or ES256). Needs "
              + "--agent-issuer and --agent-audience. The agent's identity is the token's email "
              + "claim, or its sub without one. --agent-token and --agent-token-file tokens are "
              + "tried first.")
  String agentJwksUrl;

  @Option(
      names = "--agent-issuer",
      paramLabel = "ISS",
      description = "The iss an agent's ID token must carry (with --agent-jwks-url).")
  String agentIssuer;

  @Option(
      names = "--agent-audience",
      paramLabel = "AUD",
      description =
          "A value the aud of an agent's ID token must contain, e.g. the OIDC client ID (with "
              + "--agent-jwks-url).")
  String agentAudience;

  @Option(
      names = "--admin-token",
      paramLabel = "T",
      description =
          "A bearer token that admins may present to the admin API at /api/backends "
              + "(Authorization: Bearer T); repeat for several. Keep it distinct from the agent "
              + "tokens. Without it every admin call is refused with 401.")
  List<String> adminTokens = new ArrayList<>();

  @Option(
      names = "--allow-anonymous-agents",
      description =
          "Accept any agent without a credential. Anyone who can reach the port can then serve "
              + "the backend and read every request: for demos and closed networks only (the Go "
              + "reference agent sends Google credentials, so it needs this flag).")
  boolean allowAnonymousAgents;

  @Option(
      names = "--access-log",
      description =
          "Log one line per client request on stderr (logger dev.invertingproxy.access): time, "
              + "client address, method, target, backend, status, response bytes, duration, and "
              + "the proxy's reason for its own errors. Agents connecting and disconnecting and "
              + "refused agent calls are logged in any case.")
  boolean accessLog;

  /** Checks the flags together; picocli checked each one. */
  void validate() {
    if (port < 0 || port > 65_535) {
      throw usage("Invalid value for option '--port': " + port + " is not a port (0-65535)");
    }
    if (bind.isBlank()) {
      throw usage("Invalid value for option '--bind': empty address");
    }
    if (backendId.isBlank()) {
      throw usage("Invalid value for option '--backend': empty backend ID");
    }
    for (String token : agentTokens) {
      if (token.isBlank()) {
        throw usage(
            agentTokenFromEnvironment()
                ? TOKEN_VARIABLE + " is set but empty: unset it, or set it to the agents' token"
                : "Invalid value for option '--agent-token': empty token");
      }
    }
    if (agentTokenFile != null) {
      readAgentTokenFile();
    }
    for (String token : adminTokens) {
      if (token.isBlank()) {
        throw usage("Invalid value for option '--admin-token': empty token");
      }
      if (agentTokens.contains(token)) {
        throw usage(
            "Invalid value for option '--admin-token': the same token is "
                + (agentTokenFromEnvironment()
                    ? "the agent token in the environment variable " + TOKEN_VARIABLE
                    : "an --agent-token")
                + "; an agent must not be an admin");
      }
      for (AgentTokenFile.Entry entry : namedTokens) {
        if (entry.token().equals(token)) {
          throw usage(
              "Invalid value for option '--admin-token': the same token is on line "
                  + entry.line()
                  + " of --agent-token-file; an agent must not be an admin");
        }
      }
    }
    validateJwtFlags();
    if (allowAnonymousAgents && jwtAgents()) {
      throw usage(
          "--allow-anonymous-agents and --agent-jwks-url exclude each other: anonymous agents "
              + "would make the ID tokens pointless");
    }
    if (allowAnonymousAgents && !agentTokens.isEmpty()) {
      throw usage(
          agentTokenFromEnvironment()
              ? "--allow-anonymous-agents and an agent token exclude each other, and the "
                  + "environment variable "
                  + TOKEN_VARIABLE
                  + " holds one: anonymous agents would make it pointless (unset the variable, or "
                  + "drop --allow-anonymous-agents)"
              : "--allow-anonymous-agents and --agent-token exclude each other: anonymous agents "
                  + "would make the tokens pointless");
    }
    if (allowAnonymousAgents && agentTokenFile != null) {
      throw usage(
          "--allow-anonymous-agents and --agent-token-file exclude each other: anonymous agents "
              + "would make the tokens pointless");
    }
    try {
      Providers.storageUri(storage);
    } catch (IllegalArgumentException e) {
      throw usage(
          "Invalid value for option '--storage': "
              + Secrets.withoutUserInfo(e.getMessage(), storage.trim()));
    }
  }

  /**
   * Reads {@link #agentTokenFile} into {@link #namedTokens}; a file token must be no {@code
   * --agent-token}, and a file identity not the name an {@code --agent-token} gets.
   */
  private void readAgentTokenFile() {
    try {
      namedTokens = AgentTokenFile.read(agentTokenFile);
    } catch (IllegalArgumentException e) {
      throw usage("Invalid value for option '--agent-token-file': " + e.getMessage());
    }
    List<String> unnamed = unnamedTokens();
    for (AgentTokenFile.Entry entry : namedTokens) {
      if (unnamed.contains(entry.token())) {
        throw usage(
            "Invalid value for option '--agent-token-file': "
                + agentTokenFile
                + " line "
                + entry.line()
                + ": the same token is "
                + (agentTokenFromEnvironment()
                    ? "in the environment variable " + TOKEN_VARIABLE
                    : "an --agent-token")
                + "; give it once");
      }
      int generated = unnamedIdentityIndex(entry.identity());
      if (generated >= 1 && generated <= unnamed.size()) {
        throw usage(
            "Invalid value for option '--agent-token-file': "
                + agentTokenFile
                + " line "
                + entry.line()
                + ": the identity '"
                + entry.identity()
                + (agentTokenFromEnvironment()
                    ? "' is the one the token in " + TOKEN_VARIABLE + " gets"
                    : "' is the one --agent-token number " + generated + " gets")
                + "; choose another name");
      }
    }
  }

  /** {@code n} for an identity {@code token-n}, else 0. */
  private static int unnamedIdentityIndex(String identity) {
    if (!identity.matches("token-[1-9][0-9]{0,8}")) {
      return 0;
    }
    return Integer.parseInt(identity.substring("token-".length()));
  }

  /**
   * Whether the agent token came from the environment variable {@value #TOKEN_VARIABLE} (the
   * default of {@code --agent-token}), not the command line: messages then name the variable.
   */
  private boolean agentTokenFromEnvironment() {
    return !agentTokens.isEmpty()
        && !spec.commandLine().getParseResult().hasMatchedOption("--agent-token");
  }

  /** The distinct {@code --agent-token}s in order: the n-th has the identity token-n. */
  private List<String> unnamedTokens() {
    return agentTokens.stream().distinct().toList();
  }

  /** Whether any agent token is configured (on the command line, in the environment or a file). */
  boolean agentTokensGiven() {
    return !agentTokens.isEmpty() || !namedTokens.isEmpty();
  }

  /** The identities of the agent tokens, each once: token-1, ..., then the file's in order. */
  List<String> agentIdentities() {
    List<String> identities = new ArrayList<>();
    for (int i = 1; i <= unnamedTokens().size(); i++) {
      identities.add("token-" + i);
    }
    namedTokens.stream()
        .map(AgentTokenFile.Entry::identity)
        .filter(identity -> !identities.contains(identity))
        .forEach(identities::add);
    return identities;
  }

  /** Whether agents may authenticate with ID tokens (the three JWT flags are given). */
  boolean jwtAgents() {
    return agentJwksUrl != null;
  }

  /** The three JWT flags come together, each with a usable value. */
  private void validateJwtFlags() {
    List<String> given = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    (agentJwksUrl != null ? given : missing).add("--agent-jwks-url");
    (agentIssuer != null ? given : missing).add("--agent-issuer");
    (agentAudience != null ? given : missing).add("--agent-audience");
    if (given.isEmpty()) {
      return;
    }
    if (!missing.isEmpty()) {
      throw usage(
          String.join(", ", given)
              + " also needs "
              + String.join(" and ", missing)
              + ": --agent-jwks-url, --agent-issuer and --agent-audience go together");
    }
    try {
      JwtAgentAuthenticator.builder().jwksUri(jwksUri());
    } catch (IllegalArgumentException e) {
      throw usage(
          "Invalid value for option '--agent-jwks-url': an absolute http(s) URL is needed, not '"
              + Secrets.withoutUserInfo(agentJwksUrl, agentJwksUrl)
              + "'");
    }
    if (agentIssuer.isBlank()) {
      throw usage("Invalid value for option '--agent-issuer': empty issuer");
    }
    if (agentAudience.isBlank()) {
      throw usage("Invalid value for option '--agent-audience': empty audience");
    }
  }

  private URI jwksUri() {
    try {
      return new URI(agentJwksUrl);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * The agent authenticator the flags ask for: {@code --agent-token}s become identities token-1,
   * token-2, ..., {@code --agent-token-file} tokens have their named identities. With the JWT
   * flags, an agent is accepted if its bearer token is one of the tokens or else a valid ID token
   * (identity: its email, or its sub).
   */
  AgentAuthenticator authenticator() {
    if (allowAnonymousAgents) {
      return AgentAuthenticator.anonymous();
    }
    AgentAuthenticator tokens = tokenAuthenticator();
    if (!jwtAgents()) {
      return tokens;
    }
    AgentAuthenticator jwt =
        JwtAgentAuthenticator.builder()
            .jwksUri(jwksUri())
            .issuer(agentIssuer)
            .audience(agentAudience)
            .build();
    return headers -> tokens.authenticate(headers).or(() -> jwt.authenticate(headers));
  }

  private AgentAuthenticator tokenAuthenticator() {
    if (!agentTokensGiven()) {
      return AgentAuthenticator.denyAll();
    }
    Map<String, String> identities = new LinkedHashMap<>();
    for (String token : unnamedTokens()) {
      identities.put(token, "token-" + (identities.size() + 1));
    }
    for (AgentTokenFile.Entry entry : namedTokens) {
      identities.put(entry.token(), entry.identity());
    }
    return AgentAuthenticator.bearerTokens(identities);
  }

  /**
   * The admin authenticator the flags ask for (deny-all without {@code --admin-token}); tokens
   * become identities admin-1, admin-2, ...
   */
  AgentAuthenticator adminAuthenticator() {
    if (adminTokens.isEmpty()) {
      return AgentAuthenticator.denyAll();
    }
    Map<String, String> identities = new LinkedHashMap<>();
    for (String token : adminTokens) {
      identities.putIfAbsent(token, "admin-" + (identities.size() + 1));
    }
    return AgentAuthenticator.bearerTokens(identities);
  }

  @Override
  public Integer call() throws Exception {
    validate();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();

    Lifecycle lifecycle = Lifecycle.onSignals(err);
    try {
      ProxyEngine engine;
      try {
        engine =
            ProxyEngine.builder()
                .storage(storage)
                // single-backend mode until a backend is registered through the admin API
                .routeByRegistry(backendId)
                .agentAuthenticator(authenticator())
                .accessLog(accessLog)
                .build();
      } catch (StorageException e) {
        throw storageFailure(e);
      } catch (RuntimeException e) {
        throw withoutStoragePassword(e);
      }
      lifecycle.started("proxy engine", engine::close);
      if (allowAnonymousAgents) {
        err.println(
            "WARNING: --allow-anonymous-agents: ANY client that can reach this port can act as the "
                + "agent of backend '"
                + backendId
                + "' and read every request sent to it. Use --agent-token outside closed test "
                + "networks.");
      } else if (!agentTokensGiven() && !jwtAgents()) {
        err.println(
            "WARNING: no --agent-token or --agent-token-file given: every agent call will be "
                + "refused with 401 and clients get 503. Start the proxy with --agent-token T and "
                + "the agent with --token T (or, for a closed test network only, "
                + "--allow-anonymous-agents).");
      }
      err.flush();
      ProxyServer proxy;
      try {
        proxy = ProxyServer.start(engine, bind, port, adminAuthenticator());
      } catch (Exception e) {
        throw listenFailure(e);
      }
      lifecycle.started("proxy (Jetty)", proxy::close);
      out.println("Listening on " + proxy.url());
      if (proxy.allInterfaces()) {
        out.println(
            "All interfaces (--bind "
                + bind
                + "): that URL works on this machine; other machines use this machine's name or "
                + "address instead of "
                + proxy.url().getHost()
                + ".");
      }
      out.println(
          "Every client request goes to backend '"
              + backendId
              + "'; agents: --proxy "
              + proxy.url()
              + " --backend "
              + backendId
              + (agentTokensGiven() ? " --token T" : "")
              + (jwtAgents() ? " (or --token-file FILE with an ID token)" : "")
              + " (paths under /agent/ are reserved for agents).");
      if (agentTokensGiven()) {
        out.println(
            "Agent identities (what a backend record's backendUser names): "
                + String.join(", ", agentIdentities()));
      }
      out.println(
          "Admin API: "
              + proxy.url().resolve("api/backends")
              + (adminTokens.isEmpty()
                  ? " (no --admin-token given: every admin call is refused with 401)"
                  : " (Authorization: Bearer <admin token>)"));
      out.flush();
    } catch (Exception e) {
      lifecycle.abort();
      throw e;
    }
    return lifecycle.awaitStop() ? 0 : 1;
  }

  /**
   * The storage could not be opened: for Redis, {@code cannot reach Redis at HOST:PORT: REASON},
   * else the failure as it is; the URI's user-info (its password) is never shown.
   */
  RuntimeException storageFailure(StorageException failure) {
    URI uri;
    try {
      uri = new URI(storage);
    } catch (URISyntaxException e) {
      return withoutStoragePassword(failure);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.startsWith("redis") || uri.getHost() == null) {
      return withoutStoragePassword(failure);
    }
    String where = uri.getHost() + ":" + (uri.getPort() == -1 ? DEFAULT_REDIS_PORT : uri.getPort());
    return withoutStoragePassword(
        new IllegalStateException(
            "cannot reach Redis at " + where + ": " + reason(failure), failure));
  }

  /**
   * {@code failure} if its message does not show the user-info (the password) of {@code
   * --storage}, else a failure saying the same with {@code ***} in its place: the storage provider
   * may repeat the URI (a bad database number, an unknown scheme).
   */
  RuntimeException withoutStoragePassword(RuntimeException failure) {
    String message = failure.getMessage();
    String redacted = Secrets.withoutUserInfo(message, storage.trim());
    if (message == null || message.equals(redacted)) {
      return failure;
    }
    IllegalStateException safe = new IllegalStateException(redacted);
    safe.setStackTrace(failure.getStackTrace());
    return safe;
  }

  /** Why a connection failed, in a few words: the most telling cause. */
  static String reason(Throwable failure) {
    Throwable innermost = failure;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      innermost = t;
      String message = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
      if (t instanceof UnknownHostException) {
        return "unknown host";
      }
      if (t instanceof SocketTimeoutException || message.startsWith("connection timed out")) {
        return "connection timed out";
      }
      if (t instanceof ConnectException && message.contains("refused")) {
        return "connection refused";
      }
    }
    String message = innermost.getMessage();
    return message == null || message.isBlank() ? innermost.toString() : message.strip();
  }

  /** Jetty could not listen: the port is taken, or the address is not this machine's. */
  Exception listenFailure(Exception failure) {
    if (ProxyServer.isPortInUse(failure)) {
      return new IllegalStateException(
          "port "
              + port
              + " on "
              + bind
              + " is in use: stop what uses it, choose another --port, or use --port 0 for a "
              + "free one",
          failure);
    }
    Optional<BindException> bindFailure = ProxyServer.bindFailure(failure);
    if (bindFailure.isPresent()) {
      return new IllegalStateException(
          "cannot listen on "
              + bind
              + ": "
              + bindFailure.get().getMessage()
              + " (--bind must be an address of this machine, or 0.0.0.0 for all)",
          failure);
    }
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof UnresolvedAddressException) {
        return new IllegalStateException(
            "cannot listen on " + bind + ": unknown host (--bind takes an address or host name)",
            failure);
      }
    }
    return failure;
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }
}
