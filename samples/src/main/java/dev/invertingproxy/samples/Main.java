package dev.invertingproxy.samples;

import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code java -jar inverting-proxy.jar COMMAND}: {@code quickstart} (backend, proxy and agent in one
 * JVM), {@code proxy} (the stand-alone proxy) and {@code agent} (the stand-alone agent).
 *
 * <p>Exit codes: 0 after {@code --help} or a clean stop (SIGTERM or Ctrl-C), 2 for a bad command
 * line (the message and the usage go to stderr), 1 if the command failed, something could not be
 * stopped, the agent cut requests still in flight when stopping, or a second signal ended a stop
 * ({@code error:} lines on stderr).
 */
@Command(
    name = "inverting-proxy",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    synopsisSubcommandLabel = "COMMAND",
    description = {
      "An inverting proxy: the proxy parks client requests; an agent beside a private backend "
          + "connects out to it, collects the requests, forwards them and posts the responses back "
          + "(the protocol of Google's inverting-proxy).",
      ""
    },
    subcommands = {
      QuickstartCommand.class,
      ProxyCommand.class,
      AgentCommand.class,
      HelpCommand.class
    },
    footer = {
      "",
      "Durations are written as in Go: 60s, 1m30s, 500ms, 2h, 1.5s, 0.",
      "Run 'inverting-proxy COMMAND --help' for a command's options."
    })
public final class Main implements Callable<Integer> {
  @Spec CommandSpec spec;

  /** Runs a command; exits with its code. */
  public static void main(String[] args) {
    configureLogging();
    System.exit(commandLine().execute(args));
  }

  /** The command line with its sub-commands and error handling, for {@code main} and tests. */
  static CommandLine commandLine() {
    CommandLine commandLine = new CommandLine(new Main());
    commandLine.setExecutionExceptionHandler(ERROR_LINE);
    commandLine.setParameterExceptionHandler(USAGE_ERROR);
    return commandLine;
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing required command");
  }

  /**
   * A bad command line: the message (an unknown flag named first, even when required ones are
   * missing too), the synopsis and a pointer to {@code --help} on stderr; exit code 2. Arguments
   * that picocli could not place are named only if they look like options, without an attached
   * value: the others may be the values of misspelled options, tokens among them.
   */
  private static final IParameterExceptionHandler USAGE_ERROR =
      (failure, args) -> {
        CommandLine commandLine = failure.getCommandLine();
        PrintWriter err = commandLine.getErr();
        List<String> unknown = commandLine.getUnmatchedArguments();
        if (!(failure instanceof UnmatchedArgumentException) && !unknown.isEmpty()) {
          err.println(commandLine.getColorScheme().errorText(unmatched(unknown)));
        }
        String unknownCommand = unknownCommand(failure);
        String message;
        if (unknownCommand != null) {
          message =
              "Unknown command '"
                  + unknownCommand
                  + "'; the commands are: "
                  + String.join(", ", commandLine.getSubcommands().keySet());
        } else if (failure instanceof UnmatchedArgumentException unmatched) {
          message = unmatched(unmatched.getUnmatched());
        } else {
          message = switchWithValue(failure).orElse(failure.getMessage());
        }
        err.println(commandLine.getColorScheme().errorText(message));
        UnmatchedArgumentException.printSuggestions(failure, err);
        err.print(commandLine.getHelp().fullSynopsis());
        err.println(
            "Run '" + commandLine.getCommandSpec().qualifiedName() + " --help' for the options.");
        err.flush();
        return commandLine.getCommandSpec().exitCodeOnInvalidInput();
      };

  /**
   * Names the unmatched arguments that look like options ({@code Unknown option: '--nope'}), never
   * the others, nor a value attached with {@code =}.
   */
  private static String unmatched(List<String> arguments) {
    List<String> options = Secrets.optionNames(arguments);
    if (options.isEmpty()) {
      return arguments.size() == 1
          ? "Unexpected argument (not shown, as it may be a secret): give options only, such as "
              + "--name VALUE"
          : arguments.size()
              + " unexpected arguments (not shown, as they may be secrets): give options only, "
              + "such as --name VALUE";
    }
    return (options.size() == 1 ? "Unknown option: " : "Unknown options: ")
        + options.stream().map(a -> "'" + a + "'").collect(Collectors.joining(", "));
  }

  /**
   * For a value given to a switch ({@code --access-log=VALUE}), a message without the value
   * (picocli's repeats it); empty for any other failure.
   */
  private static Optional<String> switchWithValue(ParameterException failure) {
    ArgSpec arg = failure.getArgSpec();
    if (!(arg instanceof OptionSpec option)
        || !(option.type() == boolean.class || option.type() == Boolean.class)
        || failure.getMessage() == null
        || !failure.getMessage().startsWith("Invalid value for option")) {
      return Optional.empty();
    }
    return Optional.of(
        "Invalid value for option '"
            + option.longestName()
            + "': a switch takes no value (the value given is not shown); write "
            + option.longestName()
            + " alone");
  }

  /**
   * The word given where a command was expected ({@code inverting-proxy prxy}), or null if the
   * failure is something else (picocli says only "Unmatched argument at index 0").
   */
  private static String unknownCommand(ParameterException failure) {
    if (!(failure instanceof UnmatchedArgumentException unmatched)
        || failure.getCommandLine().getSubcommands().isEmpty()) {
      return null;
    }
    List<String> arguments = unmatched.getUnmatched();
    if (arguments.isEmpty() || arguments.get(0).startsWith("-")) {
      return null;
    }
    return arguments.get(0);
  }

  /** A failure after the command line was accepted: one line on stderr, exit code 1. */
  private static final IExecutionExceptionHandler ERROR_LINE =
      (failure, commandLine, parseResult) -> {
        String message = failure.getMessage();
        if (message == null || message.isBlank()) {
          message = failure.toString();
        }
        commandLine.getErr().println(commandLine.getColorScheme().errorText("error: " + message));
        commandLine.getErr().flush();
        return 1;
      };

  /**
   * The library logs through {@code System.Logger} (java.util.logging here): one short line per
   * record on stderr, unless the user configured a format.
   */
  private static void configureLogging() {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty(
          "java.util.logging.SimpleFormatter.format", "%1$tT %4$s %5$s%6$s%n");
    }
  }

  /** The version from the jar's manifest. */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = Main.class.getPackage().getImplementationVersion();
      return new String[] {"inverting-proxy " + (version == null ? "(development build)" : version)};
    }
  }
}
