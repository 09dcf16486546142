package dev.invertingproxy.samples;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** Keeps credentials out of what the programs print: never echo a value that may be a secret. */
final class Secrets {
  private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*");

  private Secrets() {}

  /**
   * The user-info of a URL as typed ({@code user:password} in {@code
   * scheme://user:password@host/...}, also without the scheme), or empty if it has none. Works on
   * text that is no valid URI too, so that error messages about such text can leave it out.
   */
  static Optional<String> userInfo(String url) {
    int start = 0;
    int schemeEnd = url.indexOf("://");
    if (schemeEnd > 0 && SCHEME.matcher(url.substring(0, schemeEnd)).matches()) {
      start = schemeEnd + 3;
    }
    int end = url.length();
    for (char c : new char[] {'/', '?', '#'}) {
      int at = url.indexOf(c, start);
      if (at >= 0 && at < end) {
        end = at;
      }
    }
    int at = url.lastIndexOf('@', end - 1);
    return at >= start ? Optional.of(url.substring(start, at)) : Optional.empty();
  }

  /** {@code text} with the user-info of {@code url} ({@code user:password@}) shown as {@code ***@}. */
  static String withoutUserInfo(String text, String url) {
    Optional<String> userInfo = userInfo(url);
    if (text == null || userInfo.isEmpty()) {
      return text;
    }
    return text.replace(userInfo.get() + "@", "***@");
  }

  /**
   * The command-line arguments that look like options ({@code -} first), without a value attached
   * with {@code =}, each once: what a message about unknown arguments may name. The others may be
   * the values of misspelled options, such as a token after {@code --agent-tokn}.
   */
  static List<String> optionNames(List<String> arguments) {
    return arguments.stream()
        .filter(argument -> argument.startsWith("-"))
        .map(argument -> argument.contains("=") ? argument.substring(0, argument.indexOf('=')) : argument)
        .distinct()
        .toList();
  }
}
