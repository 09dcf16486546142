package dev.invertingproxy.samples;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The proxy's {@code --agent-token-file}: named agent tokens, one {@code IDENTITY TOKEN} pair a
 * line, separated by white space; blank lines and lines starting with {@code #} are ignored. The
 * identity is what a backend record's {@code backendUser} names; an identity may have several
 * tokens (one being rotated out), a token only one identity. A leading byte-order mark (which some
 * Windows editors write) is not part of the first line.
 *
 * <p>Messages about the file name the line, never the token.
 */
final class AgentTokenFile {
  /** One line of the file: {@code identity}, {@code token}, and where it was (1-based). */
  record Entry(String identity, String token, int line) {}

  private static final String BYTE_ORDER_MARK = "\uFEFF";

  private AgentTokenFile() {}

  /**
   * Reads and checks the file.
   *
   * @throws IllegalArgumentException with a message for the user (the file name, the line number,
   *     what is wrong) if the file cannot be read, a line is not a pair, a token repeats, or the
   *     file has no pair at all
   */
  static List<Entry> read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("cannot read " + file + ": no such file");
    } catch (AccessDeniedException e) {
      throw new IllegalArgumentException("cannot read " + file + ": permission denied");
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("cannot read " + file + ": not UTF-8 text");
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read "
              + file
              + ": "
              + (Files.isDirectory(file) ? "it is a directory" : String.valueOf(e.getMessage())));
    }
    if (!lines.isEmpty() && lines.get(0).startsWith(BYTE_ORDER_MARK)) {
      lines.set(0, lines.get(0).substring(BYTE_ORDER_MARK.length()));
    }
    List<Entry> entries = new ArrayList<>();
    Map<String, Integer> lineOfToken = new HashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      int number = i + 1;
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] fields = line.split("\\s+");
      if (fields.length != 2) {
        throw new IllegalArgumentException(
            file
                + " line "
                + number
                + ": expected IDENTITY TOKEN (two fields separated by white space), found "
                + fields.length
                + " fields");
      }
      String token = fields[1];
      if (token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
        throw new IllegalArgumentException(
            file + " line " + number + ": the token has characters other than visible ASCII");
      }
      Integer earlier = lineOfToken.putIfAbsent(token, number);
      if (earlier != null) {
        throw new IllegalArgumentException(
            file
                + " line "
                + number
                + ": the same token as line "
                + earlier
                + "; a token names one identity");
      }
      entries.add(new Entry(fields[0], token, number));
    }
    if (entries.isEmpty()) {
      throw new IllegalArgumentException(
          file + " has no IDENTITY TOKEN line (blank lines and # comments only)");
    }
    return List.copyOf(entries);
  }
}
