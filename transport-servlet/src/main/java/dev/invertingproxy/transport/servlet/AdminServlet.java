package dev.invertingproxy.transport.servlet;

import com.squareup.moshi.JsonAdapter;
import com.squareup.moshi.JsonDataException;
import com.squareup.moshi.JsonReader;
import com.squareup.moshi.JsonWriter;
import dev.invertingproxy.BackendRecord;
import dev.invertingproxy.BackendRegistry;
import dev.invertingproxy.BadRequestException;
import dev.invertingproxy.BodyTooLargeException;
import dev.invertingproxy.MethodNotAllowedException;
import dev.invertingproxy.NotFoundException;
import dev.invertingproxy.UnauthenticatedException;
import dev.invertingproxy.core.AgentAuthenticator;
import dev.invertingproxy.core.RequestTargets;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The admin REST API over a {@link BackendRegistry}, compatible with the reference's ({@code
 * service api}):
 *
 * <ul>
 *   <li>{@code GET {base}api/backends}: 200, a JSON array of backend records ({@code []} if none),
 *       ordered by ID.
 *   <li>{@code POST {base}api/backends} with one JSON record: creates it or replaces the record
 *       with the same {@code id}; 200, empty. 400 with a one-line reason naming the field if the
 *       record is invalid or the JSON malformed.
 *   <li>{@code DELETE {base}api/backends/{id}}: 200, empty; 404 if there is no such backend (the
 *       reference answers 200).
 * </ul>
 *
 * <p>Other methods on those paths get 405 with {@code Allow}, other paths 404. Requests are matched
 * by the end of their path, so the servlet may be mapped anywhere ({@code /api/*}, {@code
 * /admin/*}).
 *
 * <p>A record in JSON:
 *
 * <pre>{@code
 * {"id": "b1", "endUser": "alice@example.com", "backendUser": "agent-1",
 *  "pathPrefixes": ["/"], "lastUsed": "1970-01-01T00:00:00Z"}
 * }</pre>
 *
 * <ul>
 *   <li>{@code id}: the backend ID agents send; required.
 *   <li>{@code endUser}: who may reach the backend, or {@code allUsers} for everyone. A record with
 *       several end users is written with the first (sorted) in {@code endUser} and all of them in
 *       {@code endUsers} (our addition); on input both are accepted and merged. At least one is
 *       required.
 *   <li>{@code backendUser}: the identity the backend's agent authenticates as; likewise with
 *       {@code backendUsers}. At least one is required.
 *   <li>{@code pathPrefixes}: URL path prefixes the backend serves, each starting with {@code /};
 *       {@code ["/"]} serves everything. At least one is required.
 *   <li>{@code lastUsed}: output only, RFC 3339: when an agent last answered one of the backend's
 *       requests, {@code 1970-01-01T00:00:00Z} if never (as the reference). Ignored on input.
 * </ul>
 *
 * <p>Every call must carry an admin credential. The admin authenticator is an {@link
 * AgentAuthenticator} (headers to identity) but here it authenticates <em>admins</em>: give it
 * credentials distinct from the agents'. A call it refuses is answered 401 with {@code
 * WWW-Authenticate: Bearer}, whatever its path; with {@link AgentAuthenticator#denyAll()} (the
 * choice when no admin credential is configured) every call is.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public class AdminServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private static final System.Logger LOGGER = System.getLogger(AdminServlet.class.getName());

  /** The largest backend definition accepted, in bytes. */
  static final int MAX_BODY_BYTES = 64 * 1024;

  /** {@code .../api/backends} or {@code .../api/backends/{id}}; group 1 is the raw ID. */
  private static final Pattern ROUTE = Pattern.compile("^(?:.*/)?api/backends(?:/([^/]*))?$");

  private static final JsonAdapter<List<BackendRecord>> RECORDS = new RecordsAdapter();
  private static final JsonAdapter<Draft> DRAFT = new DraftAdapter();

  private final transient BackendRegistry registry;
  private final transient AgentAuthenticator admins;

  /**
   * @param registry the registry to administer, e.g. {@code engine.storage().registry()}
   * @param admins decides who is an admin from the headers of a call (not the agents'
   *     authenticator); {@link AgentAuthenticator#denyAll()} refuses everyone
   */
  public AdminServlet(BackendRegistry registry, AgentAuthenticator admins) {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.admins = Objects.requireNonNull(admins, "admins");
  }

  @Override
  protected void service(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String method = request.getMethod();
    String path = request.getRequestURI();
    response.setHeader("Cache-Control", "no-store");
    Optional<String> refusal = RequestTargets.refusal(path);
    if (refusal.isPresent()) {
      // mapped here after the container removed dot segments: refused as on every endpoint
      PlainAnswers.error(response, new BadRequestException(refusal.get()));
      return;
    }
    Optional<String> admin;
    try {
      admin = admins.authenticate(ContainerSupport.of(request).requestHeaders(request));
    } catch (RuntimeException e) {
      LOGGER.log(Level.WARNING, () -> "admin authenticator failed: " + e, e);
      admin = Optional.empty();
    }
    if (admin.isEmpty()) {
      PlainAnswers.error(
          response, new UnauthenticatedException("admin credential missing or not valid"));
      return;
    }
    String relative = path.substring(Math.min(request.getContextPath().length(), path.length()));
    Matcher route = ROUTE.matcher(relative);
    if (!route.matches()) {
      PlainAnswers.error(response, new NotFoundException("no admin endpoint at " + path));
      return;
    }
    String rawId = route.group(1);
    try {
      if (rawId == null) {
        switch (method) {
          case "GET" -> list(response);
          case "POST" -> put(request, response, admin.get());
          default -> PlainAnswers.error(
              response,
              new MethodNotAllowedException(
                  "GET, POST", "unsupported API method: " + method + "; use GET or POST"));
        }
      } else if ("DELETE".equals(method)) {
        delete(response, rawId, admin.get());
      } else {
        PlainAnswers.error(
            response,
            new MethodNotAllowedException(
                "DELETE", "unsupported API method: " + method + "; use DELETE"));
      }
    } catch (RuntimeException e) {
      LOGGER.log(Level.WARNING, () -> "admin call " + method + " " + path + " failed: " + e, e);
      // Explicit: a 500 whose reason names the registry's failure (the mapping hides a 500's).
      PlainAnswers.error(response, 500, "the backend registry failed: " + oneLine(e));
    }
  }

  private void list(HttpServletResponse response) throws IOException {
    byte[] json = RECORDS.toJson(registry.list()).getBytes(StandardCharsets.UTF_8);
    response.setStatus(200);
    response.setContentType("application/json");
    response.setContentLength(json.length);
    response.getOutputStream().write(json);
  }

  private void put(HttpServletRequest request, HttpServletResponse response, String admin)
      throws IOException {
    byte[] body = readBody(request.getInputStream());
    if (body == null) {
      PlainAnswers.error(
          response,
          new BodyTooLargeException(
              "the backend definition is larger than " + MAX_BODY_BYTES + " bytes"));
      return;
    }
    BackendRecord record;
    try {
      Draft draft = DRAFT.fromJson(new String(body, StandardCharsets.UTF_8));
      if (draft == null) {
        throw new JsonDataException("the backend definition is null");
      }
      record = draft.validate();
    } catch (JsonDataException | IllegalArgumentException e) {
      PlainAnswers.error(
          response, new BadRequestException("invalid backend definition: " + oneLine(e)));
      return;
    } catch (IOException e) { // JsonEncodingException: not JSON at all
      PlainAnswers.error(
          response,
          new BadRequestException("malformed JSON in the backend definition: " + oneLine(e)));
      return;
    }
    registry.put(record);
    LOGGER.log(Level.INFO, () -> "admin " + admin + " put backend " + record.id());
    response.setStatus(200);
    response.setContentLength(0);
  }

  private void delete(HttpServletResponse response, String rawId, String admin)
      throws IOException {
    String id;
    try {
      id = percentDecode(rawId);
    } catch (IllegalArgumentException e) {
      PlainAnswers.error(
          response, new BadRequestException("bad backend ID in the path: " + oneLine(e)));
      return;
    }
    if (id.isEmpty()) {
      PlainAnswers.error(response, new BadRequestException("no backend specified"));
      return;
    }
    if (!registry.delete(id)) {
      PlainAnswers.error(response, new NotFoundException("no backend " + id));
      return;
    }
    LOGGER.log(Level.INFO, () -> "admin " + admin + " deleted backend " + id);
    response.setStatus(200);
    response.setContentLength(0);
  }

  /** Reads the whole body, or returns null if it is larger than {@link #MAX_BODY_BYTES}. */
  private static byte @Nullable [] readBody(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    for (int n; (n = in.read(buffer)) != -1; ) {
      out.write(buffer, 0, n);
      if (out.size() > MAX_BODY_BYTES) {
        return null;
      }
    }
    return out.toByteArray();
  }

  /** Decodes {@code %XX} escapes as UTF-8; a {@code +} stays a {@code +} (this is a path). */
  static String percentDecode(String raw) {
    if (raw.indexOf('%') < 0) {
      return raw;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int i = 0; i < raw.length(); ) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= raw.length()) {
          throw new IllegalArgumentException("truncated escape in " + raw);
        }
        int hi = Character.digit(raw.charAt(i + 1), 16);
        int lo = Character.digit(raw.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          throw new IllegalArgumentException("bad escape in " + raw);
        }
        bytes.write(hi * 16 + lo);
        i += 3;
      } else {
        int end = i + Character.charCount(raw.codePointAt(i));
        bytes.writeBytes(raw.substring(i, end).getBytes(StandardCharsets.UTF_8));
        i = end;
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  private static String oneLine(Throwable e) {
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return message.replaceAll("[\\r\\n]+", " ");
  }

  // ------------------------------------------------------------------ JSON, without reflection

  /** A backend definition as posted, before validation; absent fields are null. */
  static final class Draft {
    @Nullable String id;
    @Nullable String endUser;
    @Nullable List<String> endUsers;
    @Nullable String backendUser;
    @Nullable List<String> backendUsers;
    @Nullable List<String> pathPrefixes;

    /** Checks the definition; the exception's message names the offending field. */
    BackendRecord validate() {
      if (id == null || id.isBlank()) {
        throw new IllegalArgumentException("id must be non-empty");
      }
      Set<String> agents = identities("backendUser", backendUser, "backendUsers", backendUsers);
      Set<String> users = identities("endUser", endUser, "endUsers", endUsers);
      if (pathPrefixes == null || pathPrefixes.isEmpty()) {
        throw new IllegalArgumentException("pathPrefixes must be non-empty");
      }
      for (String prefix : pathPrefixes) {
        if (!prefix.startsWith("/")) {
          throw new IllegalArgumentException(
              "pathPrefixes: \"" + prefix + "\" does not start with /");
        }
      }
      return new BackendRecord(id, agents, users, pathPrefixes, null);
    }

    private static Set<String> identities(
        String singleName, @Nullable String single, String listName, @Nullable List<String> list) {
      Set<String> result = new LinkedHashSet<>();
      if (single != null && !single.isEmpty()) { // "" is absent, as in the reference (omitempty)
        result.add(single);
      }
      if (list != null) {
        for (String identity : list) {
          if (identity.isEmpty()) {
            throw new IllegalArgumentException(listName + " contains an empty identity");
          }
          result.add(identity);
        }
      }
      if (result.isEmpty()) {
        throw new IllegalArgumentException(
            singleName + " (or " + listName + ") must be non-empty");
      }
      return result;
    }
  }

  /** Reads a {@link Draft}; unknown fields and {@code lastUsed} are skipped, nulls are absent. */
  private static final class DraftAdapter extends JsonAdapter<Draft> {
    @Override
    public @Nullable Draft fromJson(JsonReader reader) throws IOException {
      if (reader.peek() == JsonReader.Token.NULL) {
        return reader.nextNull();
      }
      if (reader.peek() != JsonReader.Token.BEGIN_OBJECT) {
        throw new JsonDataException("expected a JSON object, got " + reader.peek());
      }
      Draft draft = new Draft();
      reader.beginObject();
      while (reader.hasNext()) {
        String name = reader.nextName();
        if (reader.peek() == JsonReader.Token.NULL) {
          reader.skipValue();
          continue;
        }
        switch (name) {
          case "id" -> draft.id = string(reader, name);
          case "endUser" -> draft.endUser = string(reader, name);
          case "endUsers" -> draft.endUsers = strings(reader, name);
          case "backendUser" -> draft.backendUser = string(reader, name);
          case "backendUsers" -> draft.backendUsers = strings(reader, name);
          case "pathPrefixes" -> draft.pathPrefixes = strings(reader, name);
          default -> reader.skipValue(); // lastUsed (output only) and unknown fields
        }
      }
      reader.endObject();
      return draft;
    }

    private static String string(JsonReader reader, String name) throws IOException {
      if (reader.peek() != JsonReader.Token.STRING) {
        throw new JsonDataException(name + " must be a string, got " + reader.peek());
      }
      return reader.nextString();
    }

    private static List<String> strings(JsonReader reader, String name) throws IOException {
      if (reader.peek() != JsonReader.Token.BEGIN_ARRAY) {
        throw new JsonDataException(name + " must be an array of strings, got " + reader.peek());
      }
      List<String> values = new ArrayList<>();
      reader.beginArray();
      while (reader.hasNext()) {
        if (reader.peek() != JsonReader.Token.STRING) {
          throw new JsonDataException(name + " must be an array of strings, got " + reader.peek());
        }
        values.add(reader.nextString());
      }
      reader.endArray();
      return values;
    }

    @Override
    public void toJson(JsonWriter writer, @Nullable Draft value) {
      throw new UnsupportedOperationException("input only");
    }
  }

  /** Writes records in the reference's shape, plus {@code endUsers}/{@code backendUsers}. */
  private static final class RecordsAdapter extends JsonAdapter<List<BackendRecord>> {
    @Override
    public void toJson(JsonWriter writer, @Nullable List<BackendRecord> records) throws IOException {
      writer.beginArray();
      for (BackendRecord record : Objects.requireNonNull(records, "records")) {
        writer.beginObject();
        writer.name("id").value(record.id());
        identities(writer, "endUser", "endUsers", record.endUsers());
        identities(writer, "backendUser", "backendUsers", record.agentIdentities());
        writer.name("pathPrefixes").beginArray();
        for (String prefix : record.pathPrefixes()) {
          writer.value(prefix);
        }
        writer.endArray();
        writer.name("lastUsed").value(record.lastUsedTime().orElse(Instant.EPOCH).toString());
        writer.endObject();
      }
      writer.endArray();
    }

    private static void identities(
        JsonWriter writer, String singleName, String listName, Set<String> identities)
        throws IOException {
      List<String> sorted = identities.stream().sorted().toList();
      if (sorted.isEmpty()) {
        return; // omitted, as the reference omits empty fields
      }
      writer.name(singleName).value(sorted.get(0));
      if (sorted.size() > 1) {
        writer.name(listName).beginArray();
        for (String identity : sorted) {
          writer.value(identity);
        }
        writer.endArray();
      }
    }

    @Override
    public List<BackendRecord> fromJson(JsonReader reader) {
      throw new UnsupportedOperationException("output only");
    }
  }
}
