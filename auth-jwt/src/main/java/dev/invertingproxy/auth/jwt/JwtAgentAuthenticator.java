package dev.invertingproxy.auth.jwt;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimNames;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.ConfigurableJWTProcessor;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import dev.invertingproxy.Headers;
import dev.invertingproxy.core.AgentAuthenticator;
import java.lang.System.Logger.Level;
import java.net.MalformedURLException;
import java.net.URI;
import java.net.URL;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Accepts agents presenting {@code Authorization: Bearer <JWT>}, typically an OIDC ID token, that
 * an issuer signed with a key from its JWKS.
 *
 * <p>A token is accepted when all of these hold (checked by Nimbus JOSE+JWT's {@code
 * DefaultJWTProcessor}, {@code JWSVerificationKeySelector} and {@code DefaultJWTClaimsVerifier}):
 *
 * <ul>
 *   <li>it is a signed JWT (JWS) whose {@code alg} is one of the allowed algorithms (default
 *       {@code RS256} and {@code ES256}); unsecured ({@code alg: none}) and HMAC tokens are
 *       refused;
 *   <li>the signature verifies with a key of the JWKS at {@link Builder#jwksUri(URI)} (fetched on
 *       first use, cached, refreshed ahead of expiry and re-fetched, rate-limited, when a token
 *       names an unknown key ID);
 *   <li>{@code iss} equals {@link Builder#issuer(String)} and {@code aud} contains {@link
 *       Builder#audience(String)};
 *   <li>{@code exp} is present and not past, and {@code nbf}, if present, is not in the future,
 *       both give or take {@link Builder#clockSkew(Duration)} (default 60 s).
 * </ul>
 *
 * <p>The agent's identity is the string value of the {@link Builder#identityClaim(String)} claim
 * (default {@code email}); when that claim is absent, not a string or blank, it is the token's
 * {@code sub}. A valid token with neither is refused. Note that the fallback means an agent whose
 * token has no {@code email} is known by its {@code sub}: list such identities as a backend's
 * {@code backendUser}s if you register backends, and choose the claim so that sub and email values
 * cannot be confused at your issuer (or set the identity claim to {@code sub}).
 *
 * <p>Every failure (no or non-Bearer {@code Authorization} header, malformed token, bad signature,
 * unknown key, JWKS unreachable, claim mismatch) yields {@link Optional#empty()}, which the engine
 * answers with 401; {@link #authenticate(Headers)} never throws. Reasons are logged at {@code
 * DEBUG} on the {@code System.Logger} named after this class, never with the token.
 *
 * <p>Instances are immutable and thread-safe.
 *
 * @since 0.1
 */
public final class JwtAgentAuthenticator implements AgentAuthenticator {
  private static final System.Logger LOGGER =
      System.getLogger(JwtAgentAuthenticator.class.getName());

  /** The algorithms allowed when none are configured: {@code RS256} and {@code ES256}. */
  public static final List<String> DEFAULT_ALGORITHMS = List.of("RS256", "ES256");

  /** The identity claim used when none is configured. */
  public static final String DEFAULT_IDENTITY_CLAIM = "email";

  /** The clock skew tolerated when none is configured. */
  public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(60);

  /** Algorithm families whose verification keys can be published in a JWKS (no HMAC). */
  private static final Set<JWSAlgorithm> ASYMMETRIC;

  static {
    Set<JWSAlgorithm> asymmetric = new LinkedHashSet<>();
    asymmetric.addAll(JWSAlgorithm.Family.RSA);
    asymmetric.addAll(JWSAlgorithm.Family.EC);
    asymmetric.addAll(JWSAlgorithm.Family.ED);
    ASYMMETRIC = Set.copyOf(asymmetric);
  }

  private final ConfigurableJWTProcessor<SecurityContext> processor;
  private final String identityClaim;
  private final String description;

  private JwtAgentAuthenticator(Builder builder, URL jwksUrl, Set<JWSAlgorithm> algorithms) {
    JWKSourceBuilder<SecurityContext> source = JWKSourceBuilder.create(jwksUrl).retrying(true);
    // An unknown key ID makes Nimbus fetch the JWKS again (key rotation), at most this often.
    source =
        builder.minRefetchInterval.isZero()
            ? source.rateLimited(false)
            : source.rateLimited(builder.minRefetchInterval.toMillis());
    JWKSource<SecurityContext> keys = source.build();
    DefaultJWTProcessor<SecurityContext> jwtProcessor = new DefaultJWTProcessor<>();
    jwtProcessor.setJWSKeySelector(new JWSVerificationKeySelector<>(algorithms, keys));
    DefaultJWTClaimsVerifier<SecurityContext> claimsVerifier =
        new DefaultJWTClaimsVerifier<>(
            Set.of(builder.audience),
            new JWTClaimsSet.Builder().issuer(builder.issuer).build(),
            Set.of(JWTClaimNames.ISSUER, JWTClaimNames.AUDIENCE, JWTClaimNames.EXPIRATION_TIME),
            null);
    claimsVerifier.setMaxClockSkew((int) builder.clockSkew.toSeconds());
    jwtProcessor.setJWTClaimsSetVerifier(claimsVerifier);
    this.processor = jwtProcessor;
    this.identityClaim = builder.identityClaim;
    this.description =
        "JwtAgentAuthenticator[jwks="
            + builder.jwksUri
            + ", issuer="
            + builder.issuer
            + ", audience="
            + builder.audience
            + ", identityClaim="
            + builder.identityClaim
            + ", algorithms="
            + algorithms
            + ", clockSkew="
            + builder.clockSkew
            + "]";
  }

  /** Starts a builder; {@code jwksUri}, {@code issuer} and {@code audience} are required. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public Optional<String> authenticate(Headers headers) {
    try {
      Optional<String> token = AgentAuthenticator.bearerToken(headers);
      if (token.isEmpty()) {
        LOGGER.log(Level.DEBUG, "agent refused: no Authorization: Bearer header");
        return Optional.empty();
      }
      JWTClaimsSet claims = processor.process(token.get(), null);
      Optional<String> identity = identity(claims);
      if (identity.isEmpty()) {
        LOGGER.log(
            Level.DEBUG,
            "agent refused: valid JWT without a ''{0}'' or ''sub'' claim",
            identityClaim);
      }
      return identity;
    } catch (Exception e) { // ParseException, BadJOSEException, JOSEException and any surprise
      // Nimbus's messages describe the failure, not the token.
      LOGGER.log(
          Level.DEBUG,
          "agent refused: JWT not accepted ({0}: {1})",
          e.getClass().getSimpleName(),
          e.getMessage());
      return Optional.empty();
    }
  }

  private Optional<String> identity(JWTClaimsSet claims) {
    Optional<String> configured = nonBlankString(claims.getClaim(identityClaim));
    return configured.isPresent() ? configured : nonBlankString(claims.getSubject());
  }

  private static Optional<String> nonBlankString(@Nullable Object value) {
    return value instanceof String text && !text.isBlank() ? Optional.of(text) : Optional.empty();
  }

  @Override
  public String toString() {
    return description;
  }

  /** Configures a {@link JwtAgentAuthenticator}; not thread-safe, build once. */
  public static final class Builder {
    private Duration minRefetchInterval = Duration.ofSeconds(30);
    private @Nullable URI jwksUri;
    private @Nullable String issuer;
    private @Nullable String audience;
    private String identityClaim = DEFAULT_IDENTITY_CLAIM;
    private Duration clockSkew = DEFAULT_CLOCK_SKEW;
    private List<String> algorithms = DEFAULT_ALGORITHMS;

    private Builder() {}

    /**
     * The issuer's JWKS document ({@code jwks_uri} in its OIDC discovery document), an absolute
     * {@code https} (or, for tests and closed networks, {@code http}) URI. Required.
     */
    public Builder jwksUri(URI jwksUri) {
      Objects.requireNonNull(jwksUri, "jwksUri");
      String scheme = jwksUri.getScheme();
      if (!jwksUri.isAbsolute()
          || scheme == null
          || !(scheme.equalsIgnoreCase("https") || scheme.equalsIgnoreCase("http"))
          || jwksUri.getHost() == null) {
        throw new IllegalArgumentException(
            "jwksUri must be an absolute http(s) URI with a host: " + jwksUri);
      }
      this.jwksUri = jwksUri;
      return this;
    }

    /** The exact {@code iss} value tokens must carry. Required. */
    public Builder issuer(String issuer) {
      this.issuer = requireNonBlank(issuer, "issuer");
      return this;
    }

    /** A value the token's {@code aud} must contain (the OIDC client ID, say). Required. */
    public Builder audience(String audience) {
      this.audience = requireNonBlank(audience, "audience");
      return this;
    }

    /**
     * The claim whose string value is the agent's identity (default {@code email}); when a token
     * lacks it, its {@code sub} is the identity.
     */
    public Builder identityClaim(String identityClaim) {
      this.identityClaim = requireNonBlank(identityClaim, "identityClaim");
      return this;
    }

    /**
     * How far {@code exp} and {@code nbf} may be off (default 60 s); whole seconds, 0 to 1 hour.
     */
    public Builder clockSkew(Duration clockSkew) {
      Objects.requireNonNull(clockSkew, "clockSkew");
      if (clockSkew.isNegative() || clockSkew.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException(
            "clockSkew must be between 0 and 1 hour, not " + clockSkew);
      }
      this.clockSkew = clockSkew;
      return this;
    }

    /**
     * The shortest time between two fetches of the JWKS when a token names an unknown key (a
     * rotated key is picked up then); default 30 s, {@link Duration#ZERO} for no limit.
     */
    public Builder minRefetchInterval(Duration interval) {
      java.util.Objects.requireNonNull(interval, "minRefetchInterval");
      if (interval.isNegative()) {
        throw new IllegalArgumentException("minRefetchInterval must not be negative, was " + interval);
      }
      this.minRefetchInterval = interval;
      return this;
    }

    /**
     * The JWS algorithms accepted (default {@code RS256}, {@code ES256}); asymmetric ones only
     * ({@code RS*}, {@code PS*}, {@code ES*}, {@code EdDSA}/{@code Ed25519}), since a JWKS
     * publishes verification keys.
     */
    public Builder algorithms(String... algorithms) {
      Objects.requireNonNull(algorithms, "algorithms");
      if (algorithms.length == 0) {
        throw new IllegalArgumentException("algorithms must name at least one algorithm");
      }
      for (String name : algorithms) {
        requireNonBlank(name, "algorithms");
        if (!ASYMMETRIC.contains(JWSAlgorithm.parse(name.strip()))) {
          throw new IllegalArgumentException(
              "algorithms: '" + name + "' is not an asymmetric JWS algorithm (e.g. RS256, ES256)");
        }
      }
      this.algorithms = List.of(algorithms);
      return this;
    }

    /**
     * Builds the authenticator. Fetches nothing yet: the JWKS is retrieved on the first token.
     *
     * @throws IllegalStateException if {@code jwksUri}, {@code issuer} or {@code audience} is
     *     missing
     */
    public JwtAgentAuthenticator build() {
      if (jwksUri == null) {
        throw new IllegalStateException("jwksUri is required");
      }
      if (issuer == null) {
        throw new IllegalStateException("issuer is required");
      }
      if (audience == null) {
        throw new IllegalStateException("audience is required");
      }
      URL url;
      try {
        url = jwksUri.toURL();
      } catch (MalformedURLException | IllegalArgumentException e) {
        throw new IllegalArgumentException("jwksUri is not a URL: " + jwksUri, e);
      }
      Set<JWSAlgorithm> selected = new LinkedHashSet<>();
      for (String name : algorithms) {
        selected.add(JWSAlgorithm.parse(name.strip()));
      }
      return new JwtAgentAuthenticator(this, url, Set.copyOf(selected));
    }

    private static String requireNonBlank(@Nullable String value, String name) {
      Objects.requireNonNull(value, name);
      if (value.isBlank()) {
        throw new IllegalArgumentException(name + " must not be blank");
      }
      return value;
    }
  }
}
