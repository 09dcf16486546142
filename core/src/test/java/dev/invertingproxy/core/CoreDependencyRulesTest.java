package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * core is container-neutral: no servlet, OkHttp, Lettuce or Jetty type may appear in it. Checked
 * on the sources (imports and fully qualified names), so no dependency can sneak in unnoticed.
 * JSON through Moshi (and the okio buffers its reader takes) is allowed, in the protocol package
 * only: the agent protocol's ID list is JSON.
 */
class CoreDependencyRulesTest {
  private static final Pattern FORBIDDEN =
      Pattern.compile("\\b(jakarta\\.servlet|javax\\.servlet|okhttp3|okio|io\\.lettuce|org\\.eclipse\\.jetty|com\\.squareup)\\b");
  /** Where JSON (Moshi on okio) may be used. */
  private static final Pattern JSON = Pattern.compile("\\b(com\\.squareup\\.moshi|okio)\\.");
  private static final String PROTOCOL = "dev/invertingproxy/core/protocol/";

  @Test
  void coreImportsNoContainerOrClientLibrary() throws IOException {
    Path sources = Path.of("src/main/java");
    assertThat(sources).isDirectory();
    List<String> violations = new ArrayList<>();
    try (Stream<Path> files = Files.walk(sources)) {
      for (Path file : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
          String line = lines.get(i);
          String path = file.toString().replace('\\', '/');
          boolean json =
              (path.contains(PROTOCOL) && JSON.matcher(line).find())
                  || (path.endsWith("module-info.java")
                      && line.trim().matches("requires (com\\.squareup\\.moshi|okio);.*"));
          if (!line.trim().startsWith("*") && !line.trim().startsWith("//") && FORBIDDEN.matcher(line).find() && !json) {
            violations.add(file + ":" + (i + 1) + ": " + line.trim());
          }
        }
      }
    }
    assertThat(violations).as("core must stay container-neutral").isEmpty();
  }

  @Test
  void ruleCatchesAViolation() {
    assertThat(FORBIDDEN.matcher("import jakarta.servlet.http.HttpServlet;").find()).isTrue();
    assertThat(FORBIDDEN.matcher("import okhttp3.OkHttpClient;").find()).isTrue();
    assertThat(FORBIDDEN.matcher("import io.lettuce.core.RedisClient;").find()).isTrue();
    assertThat(FORBIDDEN.matcher("import java.net.http.HttpClient;").find()).isFalse();
  }
}
