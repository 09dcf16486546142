package dev.invertingproxy.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.invertingproxy.Headers;
import dev.invertingproxy.core.AgentAuthenticator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/** Flag parsing and validation; nothing here starts a server (bad input stops before that). */
class CommandLineTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();
  @TempDir Path temp;

  @BeforeAll
  static void noTokenInTheEnvironment() {
    assumeTrue(
        System.getenv("INVERTING_PROXY_AGENT_TOKEN") == null,
        "INVERTING_PROXY_AGENT_TOKEN is set; the defaults below assume it is not");
  }

  private int execute(String... args) {
    CommandLine commandLine = Main.commandLine();
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    return commandLine.execute(args);
  }

  @SuppressWarnings("unchecked")
  private static <T> T parse(String... args) {
    ParseResult result = Main.commandLine().parseArgs(args);
    return (T) result.subcommand().commandSpec().userObject();
  }

  private static Optional<String> identity(AgentAuthenticator authenticator, String token) {
    return authenticator.authenticate(Headers.of("Authorization", "Bearer " + token));
  }

  // ---------------------------------------------------------------- help and errors

  @Test
  void helpPrintsUsageAndExitsZero() {
    assertThat(execute("--help")).isZero();
    assertThat(out.toString())
        .contains("Usage: inverting-proxy")
        .contains("quickstart")
        .contains("proxy")
        .contains("agent");
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void everyCommandHasHelp() {
    for (String command : new String[] {"quickstart", "proxy", "agent"}) {
      out.getBuffer().setLength(0);
      assertThat(execute(command, "--help")).isZero();
      assertThat(out.toString()).contains("Usage: inverting-proxy " + command);
    }
    assertThat(out.toString())
        .contains("--proxy-timeout=D", "--request-forwarding-timeout=D", "--backend-keep-alive=D");
  }

  @Test
  void agentHelpSaysWhatZeroMeansForTheForwardingTimeout() {
    assertThat(execute("agent", "--help")).isZero();
    assertThat(out.toString().replaceAll("\\s+", " "))
        .contains(
            "0 (the default) means none here, so streams are never cut (in the Go agent, 0 means "
                + "the proxy time-out)")
        .doesNotContain("as in the Go agent; 0");
  }

  @Test
  void versionComesFromTheManifestOrSaysDevelopment() {
    assertThat(execute("--version")).isZero();
    assertThat(out.toString()).startsWith("inverting-proxy ");
  }

  @Test
  void noCommandIsAUsageError() {
    assertThat(execute()).isEqualTo(2);
    assertThat(err.toString()).contains("Missing required command").contains("Usage:");
  }

  @Test
  void unknownFlagExitsTwoNamingTheFlag() {
    assertThat(execute("proxy", "--port", "0", "--nope")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Unknown option: '--nope'")
        .contains("Usage: inverting-proxy proxy")
        .contains("Run 'inverting-proxy proxy --help'");
    assertThat(out.toString()).isEmpty();
  }

  @Test
  void unknownFlagIsNamedEvenWhenRequiredOnesAreMissing() {
    assertThat(execute("agent", "--nope")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Unknown option: '--nope'")
        .contains("Missing required options: '--proxy=URL', '--backend=ID'");
  }

  @Test
  void misspelledFlagIsNamedWithoutTheValueAfterIt() {
    assertThat(execute("proxy", "--port", "0", "--agent-tokn", "s3cret-value")).isEqualTo(2);
    assertThat(err.toString())
        .startsWith("Unknown option: '--agent-tokn'" + System.lineSeparator())
        .contains("Possible solutions: --agent-token")
        .doesNotContain("s3cret");
    err.getBuffer().setLength(0);
    // also when another failure is reported next to it
    assertThat(execute("proxy", "--agent-tokn", "s3cret-value")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Unknown option: '--agent-tokn'")
        .contains("Missing required option: '--port=N'")
        .doesNotContain("s3cret");
    err.getBuffer().setLength(0);
    assertThat(execute("agent", "-token", "s3cret-value", "--nope=s3cret-too")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Unknown options: '-token', '--nope'")
        .doesNotContain("s3cret");
    err.getBuffer().setLength(0);
    assertThat(execute("--token", "s3cret-value")).isEqualTo(2);
    assertThat(err.toString()).contains("Unknown option: '--token'").doesNotContain("s3cret");
  }

  @Test
  void valueAttachedToAMisspelledFlagIsNotShown() {
    assertThat(execute("proxy", "--port", "0", "--admin-tokn=s3cret-value")).isEqualTo(2);
    assertThat(err.toString())
        .startsWith("Unknown option: '--admin-tokn'" + System.lineSeparator())
        .doesNotContain("s3cret");
  }

  @Test
  void strayArgumentsAreCountedNotShown() {
    assertThat(execute("proxy", "--port", "0", "--agent-token", "t", "s3cret-value")).isEqualTo(2);
    assertThat(err.toString())
        .startsWith(
            "Unexpected argument (not shown, as it may be a secret): give options only, such as "
                + "--name VALUE")
        .contains("Usage: inverting-proxy proxy")
        .doesNotContain("s3cret");
    err.getBuffer().setLength(0);
    assertThat(execute("agent", "--proxy", "http://p/", "--backend", "b", "s3cret-1", "s3cret-2"))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith("2 unexpected arguments (not shown, as they may be secrets)")
        .doesNotContain("s3cret");
  }

  @Test
  void valueGivenToASwitchIsNotShown() {
    assertThat(execute("proxy", "--port", "0", "--allow-anonymous-agents=s3cret-value"))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith(
            "Invalid value for option '--allow-anonymous-agents': a switch takes no value (the "
                + "value given is not shown); write --allow-anonymous-agents alone")
        .doesNotContain("s3cret");
    ProxyCommand explicit = parse("proxy", "--port", "0", "--access-log=true");
    assertThat(explicit.accessLog).isTrue(); // =true and =false still work
  }

  @Test
  void missingRequiredFlagExitsTwo() {
    assertThat(execute("proxy", "--bind", "127.0.0.1")).isEqualTo(2);
    assertThat(err.toString()).contains("Missing required option: '--port=N'");
  }

  @Test
  void badDurationExitsTwoNamingTheFlag() {
    assertThat(execute("agent", "--proxy", "http://p/", "--backend", "b", "--proxy-timeout=soon"))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains("Invalid value for option '--proxy-timeout'")
        .contains("invalid duration \"soon\"");
  }

  @Test
  void unknownCommandExitsTwo() {
    assertThat(execute("serve")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Unknown command 'serve'; the commands are: quickstart, proxy, agent, help")
        .contains("Usage: inverting-proxy")
        .doesNotContain("Unmatched argument");
    assertThat(out.toString()).isEmpty();
  }

  @Test
  void misspelledCommandIsNamedWithASuggestion() {
    assertThat(execute("prxy", "--port", "0")).isEqualTo(2);
    assertThat(err.toString())
        .startsWith("Unknown command 'prxy'; the commands are: quickstart, proxy, agent, help")
        .contains("Did you mean: inverting-proxy proxy?");
  }

  @Test
  void unknownTopLevelFlagIsAnOptionNotACommand() {
    assertThat(execute("--nope")).isEqualTo(2);
    assertThat(err.toString()).contains("Unknown option: '--nope'").doesNotContain("command '");
  }

  // ---------------------------------------------------------------- proxy

  @Test
  void proxyDefaults() {
    ProxyCommand proxy = parse("proxy", "--port", "8081");
    assertThat(proxy.port).isEqualTo(8081);
    assertThat(proxy.bind).isEqualTo("0.0.0.0");
    assertThat(proxy.backendId).isEqualTo("default");
    assertThat(proxy.storage).isEqualTo("memory:");
    assertThat(proxy.allowAnonymousAgents).isFalse();
    assertThat(proxy.agentTokens).isEmpty();
  }

  @Test
  void proxyFlagsTakeSpaceOrEqualsForm() {
    ProxyCommand spaced =
        parse("proxy", "--port", "0", "--bind", "127.0.0.1", "--backend", "b1", "--storage", "memory:");
    ProxyCommand joined =
        parse("proxy", "--port=0", "--bind=127.0.0.1", "--backend=b1", "--storage=memory:");
    for (ProxyCommand proxy : new ProxyCommand[] {spaced, joined}) {
      assertThat(proxy.port).isZero();
      assertThat(proxy.bind).isEqualTo("127.0.0.1");
      assertThat(proxy.backendId).isEqualTo("b1");
      assertThat(proxy.storage).isEqualTo("memory:");
    }
  }

  @Test
  void withoutCredentialsEveryAgentIsRefused() {
    ProxyCommand proxy = parse("proxy", "--port", "0");
    proxy.validate();
    assertThat(identity(proxy.authenticator(), "anything")).isEmpty();
  }

  @Test
  void agentTokenIsRepeatable() {
    ProxyCommand proxy = parse("proxy", "--port", "0", "--agent-token", "t1", "--agent-token=t2");
    proxy.validate();
    assertThat(proxy.agentTokens).containsExactly("t1", "t2");
    AgentAuthenticator authenticator = proxy.authenticator();
    assertThat(identity(authenticator, "t1")).contains("token-1");
    assertThat(identity(authenticator, "t2")).contains("token-2");
    assertThat(identity(authenticator, "t3")).isEmpty();
    assertThat(authenticator.authenticate(Headers.empty())).isEmpty();
  }

  @Test
  void adminTokenIsRepeatableAndDeniesAllByDefault() {
    ProxyCommand none = parse("proxy", "--port", "0");
    none.validate();
    assertThat(none.adminTokens).isEmpty();
    assertThat(identity(none.adminAuthenticator(), "anything")).isEmpty();

    ProxyCommand proxy =
        parse("proxy", "--port", "0", "--agent-token", "a1", "--admin-token", "s1", "--admin-token=s2");
    proxy.validate();
    assertThat(proxy.adminTokens).containsExactly("s1", "s2");
    AgentAuthenticator admins = proxy.adminAuthenticator();
    assertThat(identity(admins, "s1")).contains("admin-1");
    assertThat(identity(admins, "s2")).contains("admin-2");
    assertThat(identity(admins, "a1")).isEmpty(); // an agent token is no admin token
    assertThat(identity(proxy.authenticator(), "s1")).isEmpty(); // and the other way round
  }

  @Test
  void adminTokenMustBeNonBlankAndNotAnAgentToken() {
    assertThat(execute("proxy", "--port", "0", "--admin-token", " ")).isEqualTo(2);
    assertThat(err.toString()).contains("'--admin-token': empty token");
    err.getBuffer().setLength(0);
    assertThat(execute("proxy", "--port", "0", "--agent-token", "t", "--admin-token", "t"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("'--admin-token'").contains("--agent-token");
  }

  @Test
  void proxyHelpMentionsTheAdminApi() {
    assertThat(execute("proxy", "--help")).isZero();
    assertThat(out.toString()).contains("--admin-token=T").contains("/api/backends");
  }

  @Test
  void anonymousAgentsAreAnOptIn() {
    ProxyCommand proxy = parse("proxy", "--port", "0", "--allow-anonymous-agents");
    proxy.validate();
    assertThat(proxy.authenticator().authenticate(Headers.empty()))
        .contains(AgentAuthenticator.ANONYMOUS);
  }

  @Test
  void anonymousAndTokensExcludeEachOther() {
    assertThat(execute("proxy", "--port", "0", "--allow-anonymous-agents", "--agent-token", "t"))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains(
            "--allow-anonymous-agents and --agent-token exclude each other: anonymous agents would "
                + "make the tokens pointless")
        .doesNotContain("INVERTING_PROXY_AGENT_TOKEN");
  }

  @Test
  void blankTokenIsRefused() {
    assertThat(execute("proxy", "--port", "0", "--agent-token", " ")).isEqualTo(2);
    assertThat(err.toString()).contains("'--agent-token': empty token");
  }

  // ---------------------------------------------------------------- proxy: --agent-token-file

  private Path tokenFile(String... lines) throws IOException {
    return Files.write(temp.resolve("agents-" + System.nanoTime()), List.of(lines));
  }

  @Test
  void agentTokenFileNamesIdentities() throws Exception {
    Path file =
        tokenFile(
            "# IDENTITY TOKEN",
            "",
            "laptop-agent   bGFwdG9w==",
            "  ci-runner\tY2k=  ",
            "   # indented comment",
            "laptop-agent rotated-0f3c");
    ProxyCommand proxy =
        parse(
            "proxy", "--port", "0", "--agent-token", "t1", "--agent-token-file", file.toString(),
            "--agent-token=t2");
    proxy.validate();
    AgentAuthenticator authenticator = proxy.authenticator();
    assertThat(identity(authenticator, "t1")).contains("token-1");
    assertThat(identity(authenticator, "t2")).contains("token-2");
    assertThat(identity(authenticator, "bGFwdG9w==")).contains("laptop-agent");
    assertThat(identity(authenticator, "Y2k=")).contains("ci-runner");
    assertThat(identity(authenticator, "rotated-0f3c")).contains("laptop-agent");
    assertThat(identity(authenticator, "laptop-agent")).isEmpty();
    assertThat(identity(authenticator, "bGFwdG9w")).isEmpty();
    assertThat(proxy.agentIdentities()).containsExactly("token-1", "token-2", "laptop-agent", "ci-runner");
  }

  @Test
  void aByteOrderMarkIsNotPartOfTheFirstIdentity() throws Exception {
    Path file = temp.resolve("agents-bom");
    Files.write(
        file,
        ("\uFEFFlaptop-agent bGFwdG9w\r\nci-runner Y2k=\r\n").getBytes(StandardCharsets.UTF_8));
    assertThat(Files.readAllBytes(file)).startsWith(0xEF, 0xBB, 0xBF);
    ProxyCommand proxy = parse("proxy", "--port", "0", "--agent-token-file", file.toString());
    proxy.validate();
    assertThat(proxy.agentIdentities()).containsExactly("laptop-agent", "ci-runner");
    assertThat(identity(proxy.authenticator(), "bGFwdG9w")).contains("laptop-agent");
    assertThat(identity(proxy.authenticator(), "Y2k=")).contains("ci-runner");

    Path commentFirst = temp.resolve("agents-bom-comment");
    Files.write(
        commentFirst, "\uFEFF# IDENTITY TOKEN\nlaptop-agent abc\n".getBytes(StandardCharsets.UTF_8));
    ProxyCommand commented =
        parse("proxy", "--port", "0", "--agent-token-file", commentFirst.toString());
    commented.validate(); // the first line is still a comment
    assertThat(commented.agentIdentities()).containsExactly("laptop-agent");
  }

  @Test
  void agentTokenFileAloneIsEnough() throws Exception {
    ProxyCommand proxy =
        parse("proxy", "--port", "0", "--agent-token-file", tokenFile("only abc").toString());
    proxy.validate();
    assertThat(proxy.agentTokensGiven()).isTrue();
    assertThat(identity(proxy.authenticator(), "abc")).contains("only");
    assertThat(proxy.agentIdentities()).containsExactly("only");
  }

  @Test
  void agentTokenFileThatIsMissingOrADirectoryIsAUsageError() {
    Path missing = temp.resolve("no-such-file");
    assertThat(execute("proxy", "--port", "0", "--agent-token-file", missing.toString()))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains("Invalid value for option '--agent-token-file': cannot read " + missing + ": no such file")
        .contains("Usage: inverting-proxy proxy");
    err.getBuffer().setLength(0);
    assertThat(execute("proxy", "--port", "0", "--agent-token-file", temp.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("cannot read " + temp + ": it is a directory");
  }

  @Test
  void malformedLineIsNamedWithoutItsToken() throws Exception {
    Path file = tokenFile("# agents", "laptop-agent s3cret-one", "build s3cret-two extra");
    assertThat(execute("proxy", "--port", "0", "--agent-token-file", file.toString())).isEqualTo(2);
    assertThat(err.toString())
        .contains(
            file
                + " line 3: expected IDENTITY TOKEN (two fields separated by white space), found 3 "
                + "fields")
        .doesNotContain("s3cret");
    err.getBuffer().setLength(0);
    Path tokenOnly = tokenFile("s3cret-alone");
    assertThat(execute("proxy", "--port", "0", "--agent-token-file", tokenOnly.toString()))
        .isEqualTo(2);
    assertThat(err.toString()).contains(tokenOnly + " line 1: expected IDENTITY TOKEN").doesNotContain("s3cret");
  }

  @Test
  void repeatedTokenIsAUsageErrorWithoutTheToken() throws Exception {
    Path file = tokenFile("a s3cret-x", "", "b s3cret-y", "c s3cret-x");
    assertThat(execute("proxy", "--port", "0", "--agent-token-file", file.toString())).isEqualTo(2);
    assertThat(err.toString())
        .contains(file + " line 4: the same token as line 1; a token names one identity")
        .doesNotContain("s3cret");
    err.getBuffer().setLength(0);
    Path other = tokenFile("a s3cret-z");
    assertThat(
            execute(
                "proxy", "--port", "0", "--agent-token", "s3cret-z", "--agent-token-file",
                other.toString()))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains(other + " line 1: the same token is an --agent-token")
        .doesNotContain("s3cret");
  }

  @Test
  void fileWithoutPairsIsAUsageError() throws Exception {
    Path file = tokenFile("# nobody yet", "", "   ");
    assertThat(execute("proxy", "--port", "0", "--agent-token-file", file.toString())).isEqualTo(2);
    assertThat(err.toString()).contains(file + " has no IDENTITY TOKEN line");
  }

  @Test
  void fileIdentityMustNotBeAGeneratedOne() throws Exception {
    Path file = tokenFile("token-2 abc");
    assertThat(
            execute(
                "proxy", "--port", "0", "--agent-token", "t1", "--agent-token", "t2",
                "--agent-token-file", file.toString()))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains(file + " line 1: the identity 'token-2' is the one --agent-token number 2 gets");
    ProxyCommand noClash =
        parse("proxy", "--port", "0", "--agent-token", "t1", "--agent-token-file", file.toString());
    noClash.validate(); // only one --agent-token: token-2 is free
    assertThat(identity(noClash.authenticator(), "abc")).contains("token-2");
  }

  @Test
  void adminTokenMustNotBeAFileToken() throws Exception {
    Path file = tokenFile("laptop a1", "ci shared-9");
    assertThat(
            execute(
                "proxy", "--port", "0", "--agent-token-file", file.toString(), "--admin-token",
                "shared-9"))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains(
            "Invalid value for option '--admin-token': the same token is on line 2 of "
                + "--agent-token-file; an agent must not be an admin");
  }

  @Test
  void anonymousAndTokenFileExcludeEachOther() throws Exception {
    Path file = tokenFile("laptop a1");
    assertThat(
            execute(
                "proxy", "--port", "0", "--allow-anonymous-agents", "--agent-token-file",
                file.toString()))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains("--allow-anonymous-agents and --agent-token-file exclude each other");
  }

  @Test
  void tokenFileComposesWithJwtAgents() throws Exception {
    ProxyCommand proxy =
        parse(
            "proxy", "--port", "0", "--agent-token-file", tokenFile("laptop a1").toString(),
            "--agent-jwks-url", "http://127.0.0.1:9/jwks.json", "--agent-issuer", "https://idp",
            "--agent-audience", "proxy");
    proxy.validate();
    AgentAuthenticator authenticator = proxy.authenticator();
    assertThat(identity(authenticator, "a1")).contains("laptop");
    assertThat(identity(authenticator, "not-a-jwt")).isEmpty();
  }

  @Test
  void proxyHelpDescribesTheTokenFile() {
    assertThat(execute("proxy", "--help")).isZero();
    assertThat(out.toString().replaceAll("\\s+", " "))
        .contains("--agent-token-file=PATH")
        .contains("IDENTITY TOKEN")
        .contains("Read once at start");
  }

  @Test
  void jwtFlagsGoTogether() {
    assertThat(execute("proxy", "--port", "0", "--agent-jwks-url", "https://idp/jwks")).isEqualTo(2);
    assertThat(err.toString())
        .contains("--agent-jwks-url also needs --agent-issuer and --agent-audience")
        .contains("Usage: inverting-proxy proxy");
    err.getBuffer().setLength(0);
    assertThat(execute("proxy", "--port", "0", "--agent-issuer", "i", "--agent-audience", "a"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("also needs --agent-jwks-url");
    err.getBuffer().setLength(0);
    assertThat(
            execute(
                "proxy", "--port", "0", "--agent-jwks-url", "jwks.json", "--agent-issuer", "i",
                "--agent-audience", "a"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("Invalid value for option '--agent-jwks-url'");
    err.getBuffer().setLength(0);
    assertThat(
            execute(
                "proxy", "--port", "0", "--agent-jwks-url", "https://idp/jwks", "--agent-issuer",
                " ", "--agent-audience", "a"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("'--agent-issuer': empty issuer");
    err.getBuffer().setLength(0);
    assertThat(
            execute(
                "proxy", "--port", "0", "--allow-anonymous-agents", "--agent-jwks-url",
                "https://idp/jwks", "--agent-issuer", "i", "--agent-audience", "a"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("exclude each other");
  }

  @Test
  void jwtAgentsComposeWithTokens() {
    ProxyCommand proxy =
        parse(
            "proxy", "--port", "0", "--agent-token", "a1", "--agent-jwks-url",
            "http://127.0.0.1:9/jwks.json", "--agent-issuer", "https://idp", "--agent-audience",
            "proxy");
    proxy.validate();
    AgentAuthenticator authenticator = proxy.authenticator();
    assertThat(identity(authenticator, "a1")).contains("token-1"); // tokens first
    assertThat(identity(authenticator, "not-a-jwt")).isEmpty(); // then the JWT check, which fails
    assertThat(authenticator.authenticate(Headers.empty())).isEmpty();
  }

  @Test
  void proxyHelpListsTheJwtFlags() {
    assertThat(execute("proxy", "--help")).isZero();
    assertThat(out.toString())
        .contains("--agent-jwks-url=URL", "--agent-issuer=ISS", "--agent-audience=AUD");
  }

  @Test
  void portOutOfRangeIsRefused() {
    assertThat(execute("proxy", "--port", "70000")).isEqualTo(2);
    assertThat(err.toString()).contains("'--port': 70000 is not a port");
    err.getBuffer().setLength(0);
    assertThat(execute("proxy", "--port", "eighty")).isEqualTo(2);
    assertThat(err.toString()).contains("'--port'").contains("eighty");
  }

  @Test
  void storagePasswordIsNotShownInUsageErrors() {
    assertThat(execute("proxy", "--port", "0", "--storage", "redis://:s3cret pw@127.0.0.1:6379"))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith(
            "Invalid value for option '--storage': Illegal character in authority at index 8: "
                + "redis://***@127.0.0.1:6379")
        .doesNotContain("s3cret");
    err.getBuffer().setLength(0);
    assertThat(execute("proxy", "--port", "0", "--storage", ":s3cret@127.0.0.1:6379")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Invalid value for option '--storage'")
        .contains("***@127.0.0.1:6379")
        .doesNotContain("s3cret");
  }

  @Test
  void storageWithoutSchemeIsAUsageError() {
    assertThat(execute("proxy", "--port", "0", "--storage", "localhost")).isEqualTo(2);
    assertThat(err.toString()).contains("Invalid value for option '--storage'").contains("scheme");
  }

  // ---------------------------------------------------------------- agent

  @Test
  void agentDefaultsFollowTheGoAgent() {
    AgentCommand agent = parse("agent", "--proxy", "http://proxy.example/", "--backend", "b1");
    agent.validate();
    assertThat(agent.host).isEqualTo("localhost:8080");
    assertThat(agent.backendUrl()).isEqualTo(URI.create("http://localhost:8080"));
    assertThat(agent.proxyTimeout).isEqualTo(Duration.ofSeconds(60));
    assertThat(agent.requestForwardingTimeout).isZero();
    assertThat(agent.gracefulShutdownTimeout).isEqualTo(Duration.ofSeconds(30));
    assertThat(agent.forwardUserId).isFalse();
    assertThat(agent.token).isNull();
  }

  @Test
  void agentFlagsTakeSpaceOrEqualsForm() {
    AgentCommand spaced =
        parse(
            "agent", "--proxy", "http://p:1/x/", "--backend", "b1", "--host", "10.0.0.5:9000",
            "--proxy-timeout", "1m30s", "--request-forwarding-timeout", "5m", "--forward-user-id",
            "--token", "secret", "--backend-keep-alive", "500ms");
    AgentCommand joined =
        parse(
            "agent", "--proxy=http://p:1/x/", "--backend=b1", "--host=10.0.0.5:9000",
            "--proxy-timeout=1m30s", "--request-forwarding-timeout=5m", "--forward-user-id",
            "--token=secret", "--backend-keep-alive=500ms");
    for (AgentCommand agent : new AgentCommand[] {spaced, joined}) {
      agent.validate();
      assertThat(agent.proxyUrl()).isEqualTo(URI.create("http://p:1/x/"));
      assertThat(agent.backendId).isEqualTo("b1");
      assertThat(agent.backendUrl()).isEqualTo(URI.create("http://10.0.0.5:9000"));
      assertThat(agent.proxyTimeout).isEqualTo(Duration.ofSeconds(90));
      assertThat(agent.requestForwardingTimeout).isEqualTo(Duration.ofMinutes(5));
      assertThat(agent.forwardUserId).isTrue();
      assertThat(agent.token).isEqualTo("secret");
      assertThat(agent.backendKeepAlive).isEqualTo(Duration.ofMillis(500));
    }
    AgentCommand defaults = parse("agent", "--proxy", "http://p/", "--backend", "b");
    assertThat(defaults.backendKeepAlive).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void gracefulShutdownTimeoutIsAGoDuration() {
    AgentCommand agent =
        parse("agent", "--proxy", "http://p/", "--backend", "b", "--graceful-shutdown-timeout", "1m30s");
    assertThat(agent.gracefulShutdownTimeout).isEqualTo(Duration.ofSeconds(90));
    AgentCommand noWait =
        parse("agent", "--proxy", "http://p/", "--backend", "b", "--graceful-shutdown-timeout=0");
    assertThat(noWait.gracefulShutdownTimeout).isZero();
    assertThat(
            execute(
                "agent", "--proxy", "http://p/", "--backend", "b", "--graceful-shutdown-timeout",
                "30"))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains("Invalid value for option '--graceful-shutdown-timeout'")
        .contains("missing unit in duration \"30\"");
    assertThat(execute("agent", "--help")).isZero();
    assertThat(out.toString().replaceAll("\\s+", " "))
        .contains("--graceful-shutdown-timeout=D")
        .contains("(default: 30s; 0: do not wait)")
        .contains("exits with 1");
  }

  @Test
  void proxyUrlGetsItsTrailingSlash() {
    AgentCommand agent = parse("agent", "--proxy", "https://p.example/tun/m", "--backend", "b");
    assertThat(agent.proxyUrl()).isEqualTo(URI.create("https://p.example/tun/m/"));
    AgentCommand bare = parse("agent", "--proxy", "http://p.example:8080", "--backend", "b");
    assertThat(bare.proxyUrl()).isEqualTo(URI.create("http://p.example:8080/"));
  }

  @Test
  void proxyUrlMustBeHttp() {
    for (String bad : new String[] {"ftp://p/", "p.example:8080", "/agent/", "http:///x"}) {
      AgentCommand agent = parse("agent", "--proxy", bad, "--backend", "b");
      assertThatThrownBy(agent::validate)
          .isInstanceOf(ParameterException.class)
          .hasMessageContaining("'--proxy'");
    }
  }

  @Test
  void credentialsInTheProxyUrlAreRefusedWithoutBeingShown() {
    for (String url :
        new String[] {
          "http://agent:s3cret-pw@proxy.example/",
          "https://s3cret-token@proxy.example:8443/tunnel/",
          "agent:s3cret-pw@proxy.example:8080",
          "http://agent:s3cret pw@proxy.example/"
        }) {
      err.getBuffer().setLength(0);
      assertThat(execute("agent", "--proxy", url, "--backend", "b")).as(url).isEqualTo(2);
      assertThat(err.toString())
          .as(url)
          .startsWith(
              "Invalid value for option '--proxy': credentials in the URL are not supported; use "
                  + "--token or --token-file")
          .doesNotContain("s3cret");
    }
    assertThat(out.toString()).isEmpty();
  }

  @Test
  void aQueryInTheProxyUrlIsRefusedWithoutBeingShown() {
    assertThat(execute("agent", "--proxy", "http://p.example/?token=s3cret", "--backend", "b"))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith("Invalid value for option '--proxy': the URL has a query or fragment (not shown)")
        .doesNotContain("s3cret");
    for (String url :
        new String[] {
          "http://p.example/%zz?token=s3cret", "ftp://p.example/?token=s3cret",
          "p.example/?token=s3cret", "http://p.example/#s3cret"
        }) {
      err.getBuffer().setLength(0);
      assertThat(execute("agent", "--proxy", url, "--backend", "b")).as(url).isEqualTo(2);
      assertThat(err.toString())
          .as(url)
          .startsWith("Invalid value for option '--proxy': the URL has a query or fragment")
          .doesNotContain("s3cret");
    }
    err.getBuffer().setLength(0);
    assertThat(execute("agent", "--proxy", "http://p.example/%zz/s3cret/", "--backend", "b"))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith("Invalid value for option '--proxy': not a URL: Malformed escape pair at index")
        .doesNotContain("s3cret");
  }

  @Test
  void credentialsInTheHostAreRefusedWithoutBeingShown() {
    for (String host : new String[] {"u:s3cret@backend:80", "http://u:s3cret@backend:80"}) {
      err.getBuffer().setLength(0);
      assertThat(execute("agent", "--proxy", "http://p/", "--backend", "b", "--host", host))
          .isEqualTo(2);
      assertThat(err.toString())
          .startsWith(
              "Invalid value for option '--host': credentials are not supported; give HOST:PORT")
          .doesNotContain("s3cret");
    }
  }

  @Test
  void proxyUrlWithoutSchemeSaysWhatToWrite() {
    assertThat(execute("agent", "--proxy", "127.0.0.1:8080", "--backend", "b")).isEqualTo(2);
    assertThat(err.toString())
        .contains(
            "Invalid value for option '--proxy': '127.0.0.1:8080' has no scheme; write "
                + "http://127.0.0.1:8080/ (or https://...)")
        .contains("Usage: inverting-proxy agent");
    err.getBuffer().setLength(0);
    assertThat(execute("agent", "--proxy", "proxy.example/tunnel/", "--backend", "b")).isEqualTo(2);
    assertThat(err.toString()).contains("write http://proxy.example/tunnel/ (or https://...)");
    err.getBuffer().setLength(0);
    assertThat(execute("agent", "--proxy", "[::1]:8080", "--backend", "b")).isEqualTo(2);
    assertThat(err.toString()).contains("write http://[::1]:8080/");
  }

  @Test
  void tokenAndTokenFileExcludeEachOther() {
    assertThat(
            execute(
                "agent", "--proxy", "http://p/", "--backend", "b", "--token", "x",
                "--token-file", "/run/secrets/agent-token"))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains("--token and --token-file exclude each other")
        .contains("Usage: inverting-proxy agent")
        .doesNotContain("error:");
  }

  @Test
  void tokenFileIsCheckedAtStart() throws Exception {
    Path file = Files.writeString(temp.resolve("agent-token"), "t0k3n\n");
    AgentCommand fileOnly =
        parse("agent", "--proxy", "http://p/", "--backend", "b", "--token-file", file.toString());
    fileOnly.validate();
    assertThat(fileOnly.tokenFile).isEqualTo(file);

    Path missing = temp.resolve("no-such-token");
    assertThat(
            execute("agent", "--proxy", "http://p/", "--backend", "b", "--token-file", missing.toString()))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith(
            "Invalid value for option '--token-file': cannot read " + missing + ": no such file")
        .contains("Usage: inverting-proxy agent");
    assertThat(out.toString()).isEmpty();
    err.getBuffer().setLength(0);
    assertThat(
            execute("agent", "--proxy", "http://p/", "--backend", "b", "--token-file", temp.toString()))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith(
            "Invalid value for option '--token-file': cannot read " + temp + ": it is a directory");
  }

  @Test
  void unreadableTokenFileIsAUsageError() throws Exception {
    Path file = Files.writeString(temp.resolve("agent-token"), "t0k3n\n");
    Files.setPosixFilePermissions(file, java.util.Set.of());
    assumeFalse(Files.isReadable(file), "this user reads any file (root)");
    assertThat(
            execute("agent", "--proxy", "http://p/", "--backend", "b", "--token-file", file.toString()))
        .isEqualTo(2);
    assertThat(err.toString())
        .startsWith(
            "Invalid value for option '--token-file': cannot read " + file + ": permission denied");
  }

  @Test
  void hostIsHostAndPortWithoutScheme() {
    assertThat(execute("agent", "--proxy", "http://p/", "--backend", "b", "--host", "http://x:1"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("'--host'").contains("has a scheme");
    AgentCommand withPath = parse("agent", "--proxy", "http://p/", "--backend", "b", "--host", "x:1/y");
    assertThatThrownBy(withPath::validate).hasMessageContaining("is not HOST:PORT");
    AgentCommand ipv6 = parse("agent", "--proxy", "http://p/", "--backend", "b", "--host", "[::1]:8080");
    assertThat(ipv6.backendUrl()).isEqualTo(URI.create("http://[::1]:8080"));
  }

  @Test
  void zeroProxyTimeoutIsRefused() {
    assertThat(execute("agent", "--proxy", "http://p/", "--backend", "b", "--proxy-timeout", "0"))
        .isEqualTo(2);
    assertThat(err.toString()).contains("'--proxy-timeout': must be more than 0");
  }

  @Test
  void negativeDurationIsRefused() {
    assertThat(
            execute(
                "agent", "--proxy", "http://p/", "--backend", "b",
                "--request-forwarding-timeout=-5s"))
        .isEqualTo(2);
    assertThat(err.toString())
        .contains("Invalid value for option '--request-forwarding-timeout'")
        .contains("negative duration \"-5s\"");
  }

  // ---------------------------------------------------------------- quickstart

  @Test
  void quickstartDefaultsToPort8080() {
    QuickstartCommand quickstart = parse("quickstart");
    assertThat(quickstart.port).isEqualTo(8080);
    QuickstartCommand free = parse("quickstart", "--port=0");
    assertThat(free.port).isZero();
  }

  @Test
  void quickstartRefusesABadPort() {
    assertThat(execute("quickstart", "--port", "-1")).isEqualTo(2);
    assertThat(err.toString()).contains("'--port': -1 is not a port");
  }

  @Test
  void randomTokensDiffer() {
    String token = QuickstartCommand.randomToken();
    assertThat(token).hasSize(43).matches("[A-Za-z0-9_-]+");
    assertThat(QuickstartCommand.randomToken()).isNotEqualTo(token);
  }
}
