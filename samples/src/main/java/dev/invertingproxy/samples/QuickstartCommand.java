package dev.invertingproxy.samples;

import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.DefaultAgentLoop;
import dev.invertingproxy.core.ProxyEngine;
import java.io.PrintWriter;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A demo backend, the proxy and an agent in one JVM, on 127.0.0.1 only: the first thing to run.
 */
@Command(
    name = "quickstart",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Starts a demo backend, the proxy and an agent in this JVM, all on 127.0.0.1, and prints the "
          + "proxy's URL. Open it: the page comes from the backend, through the proxy and the "
          + "agent. Runs until Ctrl-C.",
      "The agent authenticates with a random one-time token that only this JVM knows.",
      ""
    })
final class QuickstartCommand implements Callable<Integer> {
  static final String BACKEND_ID = "quickstart";
  private static final Duration AGENT_CONNECT_WAIT = Duration.ofSeconds(15);

  /** Keeps the library quiet in the demo (a strong reference: JUL holds loggers weakly). */
  private static final Logger LIBRARY_LOGGER = Logger.getLogger("dev.invertingproxy");

  @Spec CommandSpec spec;

  @Option(
      names = "--port",
      paramLabel = "N",
      defaultValue = "8080",
      description =
          "The proxy's port on 127.0.0.1 (default: ${DEFAULT-VALUE}). If it is taken, a free port "
              + "is used instead; 0 always picks a free port.")
  int port;

  @Override
  public Integer call() throws Exception {
    if (port < 0 || port > 65_535) {
      throw new ParameterException(
          spec.commandLine(), "Invalid value for option '--port': " + port + " is not a port (0-65535)");
    }
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    LIBRARY_LOGGER.setLevel(Level.WARNING);

    out.println("Quickstart: a demo backend, the proxy and an agent in this JVM, on 127.0.0.1 only.");
    out.println(
        "Agent auth: the proxy accepts only a random one-time token shared with its in-process agent"
            + " (not anonymous).");
    out.flush();

    Lifecycle lifecycle = Lifecycle.onSignals(err);
    try {
      DemoBackend backend = DemoBackend.start();
      lifecycle.started("demo backend", backend::close);

      String token = randomToken();
      ProxyEngine engine =
          ProxyEngine.builder()
              .storage("memory:")
              .backend(BACKEND_ID)
              .agentAuthenticator(AgentAuthenticator.bearerTokens(Map.of(token, "quickstart-agent")))
              .build();
      lifecycle.started("proxy engine", engine::close);

      ProxyServer proxy;
      try {
        proxy = ProxyServer.start(engine, "127.0.0.1", port);
      } catch (Exception e) {
        if (port == 0 || !ProxyServer.isPortInUse(e)) {
          throw e;
        }
        err.println("Port " + port + " is in use; using a free port instead.");
        err.flush();
        proxy = ProxyServer.start(engine, "127.0.0.1", 0);
      }
      lifecycle.started("proxy (Jetty)", proxy::close);

      DefaultAgentLoop agent =
          DefaultAgentLoop.builder()
              .proxy(proxy.url())
              .backendId(BACKEND_ID)
              .backendUrl(backend.uri())
              .bearerToken(token)
              .drainTimeout(Duration.ofSeconds(5))
              .build();
      lifecycle.started("agent", agent::close);
      agent.start();

      awaitAgent(engine);
      out.println("Proxy URL: " + proxy.url());
      out.println("Try: curl " + proxy.url().resolve("hello"));
      out.println("Press Ctrl-C to stop.");
      out.flush();
    } catch (Exception e) {
      lifecycle.abort();
      throw e;
    }
    return lifecycle.awaitStop() ? 0 : 1;
  }

  /** Waits until the agent has polled the proxy (the proxy's registry saw it). */
  private static void awaitAgent(ProxyEngine engine) throws InterruptedException {
    long deadline = System.nanoTime() + AGENT_CONNECT_WAIT.toNanos();
    while (engine.storage().registry().lastSeen(BACKEND_ID).isEmpty()) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException(
            "the agent did not reach the proxy within " + AGENT_CONNECT_WAIT.toSeconds() + " s");
      }
      Thread.sleep(20);
    }
  }

  /** 256 random bits, URL-safe text. */
  static String randomToken() {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }
}
