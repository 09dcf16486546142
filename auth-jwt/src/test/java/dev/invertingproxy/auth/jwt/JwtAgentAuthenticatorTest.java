package dev.invertingproxy.auth.jwt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import dev.invertingproxy.Headers;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Real keys, a real JWKS endpoint on loopback, tokens signed by Nimbus. */
class JwtAgentAuthenticatorTest {
  private static final String ISSUER = "https://issuer.example";
  private static final String AUDIENCE = "inverting-proxy";

  private static RSAKey rsaKey;
  private static ECKey ecKey;
  private static RSAKey otherKey; // same key ID as rsaKey, not in the JWKS
  private static HttpServer jwksServer;
  private static URI jwksUri;
  private static final AtomicInteger jwksFetches = new AtomicInteger();

  @BeforeAll
  static void startJwksServer() throws Exception {
    rsaKey = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
    ecKey = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
    otherKey = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
    byte[] jwks =
        new JWKSet(List.of(rsaKey.toPublicJWK(), ecKey.toPublicJWK()))
            .toString(true)
            .getBytes(StandardCharsets.UTF_8);
    jwksServer = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    jwksServer.createContext(
        "/jwks.json",
        exchange -> {
          jwksFetches.incrementAndGet();
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, jwks.length);
          exchange.getResponseBody().write(jwks);
          exchange.close();
        });
    jwksServer.start();
    jwksUri =
        URI.create("http://127.0.0.1:" + jwksServer.getAddress().getPort() + "/jwks.json");
  }

  @AfterAll
  static void stopJwksServer() {
    if (jwksServer != null) {
      jwksServer.stop(0);
    }
  }

  private static JwtAgentAuthenticator authenticator() {
    return JwtAgentAuthenticator.builder()
        .jwksUri(jwksUri)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build();
  }

  private static JWTClaimsSet.Builder validClaims() {
    Instant now = Instant.now();
    return new JWTClaimsSet.Builder()
        .issuer(ISSUER)
        .audience(List.of("someone-else", AUDIENCE))
        .subject("1234567890")
        .claim("email", "agent@example.com")
        .issueTime(Date.from(now))
        .notBeforeTime(Date.from(now.minusSeconds(5)))
        .expirationTime(Date.from(now.plusSeconds(300)));
  }

  private static String sign(JWSSigner signer, JWSAlgorithm alg, String keyId, JWTClaimsSet claims)
      throws Exception {
    SignedJWT jwt =
        new SignedJWT(
            new JWSHeader.Builder(alg).keyID(keyId).type(JOSEObjectType.JWT).build(), claims);
    jwt.sign(signer);
    return jwt.serialize();
  }

  private static String rs256(JWTClaimsSet claims) throws Exception {
    return sign(new RSASSASigner(rsaKey), JWSAlgorithm.RS256, rsaKey.getKeyID(), claims);
  }

  private static String rs256(UnaryOperator<JWTClaimsSet.Builder> change) throws Exception {
    return rs256(change.apply(validClaims()).build());
  }

  private static Optional<String> authenticate(JwtAgentAuthenticator authenticator, String token) {
    return authenticator.authenticate(Headers.of("Authorization", "Bearer " + token));
  }

  // ---------------------------------------------------------------- accepted

  @Test
  void validRs256TokenYieldsTheEmail() throws Exception {
    assertThat(authenticate(authenticator(), rs256(validClaims().build())))
        .contains("agent@example.com");
  }

  @Test
  void validEs256TokenIsAccepted() throws Exception {
    String token =
        sign(new ECDSASigner(ecKey), JWSAlgorithm.ES256, ecKey.getKeyID(), validClaims().build());
    assertThat(authenticate(authenticator(), token)).contains("agent@example.com");
  }

  @Test
  void withoutEmailTheSubjectIsTheIdentity() throws Exception {
    assertThat(authenticate(authenticator(), rs256(c -> c.claim("email", null))))
        .contains("1234567890");
    assertThat(authenticate(authenticator(), rs256(c -> c.claim("email", 42))))
        .contains("1234567890");
  }

  @Test
  void theIdentityClaimIsConfigurable() throws Exception {
    JwtAgentAuthenticator byName =
        JwtAgentAuthenticator.builder()
            .jwksUri(jwksUri)
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .identityClaim("preferred_username")
            .build();
    assertThat(authenticate(byName, rs256(c -> c.claim("preferred_username", "robot"))))
        .contains("robot");
    assertThat(authenticate(byName, rs256(c -> c))).contains("1234567890");
  }

  @Test
  void aSingleStringAudienceIsAccepted() throws Exception {
    assertThat(authenticate(authenticator(), rs256(c -> c.audience(AUDIENCE))))
        .contains("agent@example.com");
  }

  @Test
  void clockSkewToleratesASlightlyExpiredToken() throws Exception {
    String token = rs256(c -> c.expirationTime(Date.from(Instant.now().minusSeconds(30))));
    assertThat(authenticate(authenticator(), token)).contains("agent@example.com");
    JwtAgentAuthenticator strict =
        JwtAgentAuthenticator.builder()
            .jwksUri(jwksUri)
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .clockSkew(Duration.ZERO)
            .build();
    assertThat(authenticate(strict, token)).isEmpty();
  }

  @Test
  void theJwksIsCachedAndTheAuthenticatorIsThreadSafe() throws Exception {
    JwtAgentAuthenticator authenticator = authenticator();
    String token = rs256(validClaims().build());
    assertThat(authenticate(authenticator, token)).isPresent();
    int fetches = jwksFetches.get();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      Callable<Optional<String>> call = () -> authenticate(authenticator, token);
      List<Future<Optional<String>>> results =
          pool.invokeAll(java.util.Collections.nCopies(200, call));
      for (Future<Optional<String>> result : results) {
        assertThat(result.get()).contains("agent@example.com");
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(jwksFetches.get()).isEqualTo(fetches);
  }

  // ---------------------------------------------------------------- refused

  @Test
  void wrongIssuerIsRefused() throws Exception {
    assertThat(authenticate(authenticator(), rs256(c -> c.issuer("https://evil.example"))))
        .isEmpty();
    assertThat(authenticate(authenticator(), rs256(c -> c.issuer(null)))).isEmpty();
  }

  @Test
  void wrongAudienceIsRefused() throws Exception {
    assertThat(authenticate(authenticator(), rs256(c -> c.audience("someone-else")))).isEmpty();
    assertThat(authenticate(authenticator(), rs256(c -> c.audience((String) null)))).isEmpty();
  }

  @Test
  void expiredTokenIsRefused() throws Exception {
    Instant now = Instant.now();
    String token =
        rs256(
            c ->
                c.issueTime(Date.from(now.minusSeconds(3600)))
                    .notBeforeTime(Date.from(now.minusSeconds(3600)))
                    .expirationTime(Date.from(now.minusSeconds(120))));
    assertThat(authenticate(authenticator(), token)).isEmpty();
  }

  @Test
  void tokenWithoutExpiryIsRefused() throws Exception {
    assertThat(authenticate(authenticator(), rs256(c -> c.expirationTime(null)))).isEmpty();
  }

  @Test
  void notYetValidTokenIsRefused() throws Exception {
    Instant now = Instant.now();
    String token =
        rs256(
            c ->
                c.notBeforeTime(Date.from(now.plusSeconds(600)))
                    .expirationTime(Date.from(now.plusSeconds(1200))));
    assertThat(authenticate(authenticator(), token)).isEmpty();
  }

  @Test
  void signatureByAnotherKeyIsRefused() throws Exception {
    // Same key ID as the published key, so the published key is tried and fails.
    String sameKid =
        sign(new RSASSASigner(otherKey), JWSAlgorithm.RS256, "rsa-1", validClaims().build());
    assertThat(authenticate(authenticator(), sameKid)).isEmpty();
    String unknownKid =
        sign(new RSASSASigner(otherKey), JWSAlgorithm.RS256, "unknown", validClaims().build());
    assertThat(authenticate(authenticator(), unknownKid)).isEmpty();
  }

  @Test
  void tamperedPayloadIsRefused() throws Exception {
    String[] parts = rs256(validClaims().build()).split("\\.");
    String forged =
        rs256(c -> c.claim("email", "admin@example.com")).split("\\.")[1];
    assertThat(authenticate(authenticator(), parts[0] + "." + forged + "." + parts[2])).isEmpty();
  }

  @Test
  void unsecuredTokenIsRefused() throws Exception {
    String none = new PlainJWT(validClaims().build()).serialize();
    assertThat(authenticate(authenticator(), none)).isEmpty();
  }

  @Test
  void hmacTokenIsRefused() throws Exception {
    // Signed with a secret, here even the RSA modulus bytes (the classic key-confusion attack).
    byte[] secret = rsaKey.toPublicJWK().getModulus().decode();
    String hs256 = sign(new MACSigner(secret), JWSAlgorithm.HS256, "rsa-1", validClaims().build());
    assertThat(authenticate(authenticator(), hs256)).isEmpty();
  }

  @Test
  void algorithmNotAllowedIsRefused() throws Exception {
    JwtAgentAuthenticator rsaOnly =
        JwtAgentAuthenticator.builder()
            .jwksUri(jwksUri)
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .algorithms("RS256")
            .build();
    String es256 =
        sign(new ECDSASigner(ecKey), JWSAlgorithm.ES256, ecKey.getKeyID(), validClaims().build());
    assertThat(authenticate(rsaOnly, es256)).isEmpty();
    assertThat(authenticate(rsaOnly, rs256(validClaims().build()))).isPresent();
  }

  @Test
  void garbageIsRefused() {
    JwtAgentAuthenticator authenticator = authenticator();
    for (String garbage :
        new String[] {"garbage", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.", "x y z"}) {
      assertThat(authenticate(authenticator, garbage)).as(garbage).isEmpty();
    }
  }

  @Test
  void missingOrOtherAuthorizationIsRefused() throws Exception {
    JwtAgentAuthenticator authenticator = authenticator();
    String token = rs256(validClaims().build());
    assertThat(authenticator.authenticate(Headers.of())).isEmpty();
    assertThat(authenticator.authenticate(Headers.of("Authorization", "Basic " + token)))
        .isEmpty();
    assertThat(authenticator.authenticate(Headers.of("Authorization", token))).isEmpty();
    assertThat(authenticator.authenticate(Headers.of("Authorization", "Bearer "))).isEmpty();
    assertThat(authenticator.authenticate(Headers.of("X-Token", token))).isEmpty();
  }

  @Test
  void unreachableJwksIsRefusalNotAnException() throws Exception {
    HttpServer gone = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    int port = gone.getAddress().getPort();
    gone.stop(0);
    JwtAgentAuthenticator authenticator =
        JwtAgentAuthenticator.builder()
            .jwksUri(URI.create("http://127.0.0.1:" + port + "/jwks.json"))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build();
    assertThat(authenticate(authenticator, rs256(validClaims().build()))).isEmpty();
  }

  // ---------------------------------------------------------------- builder

  @Test
  void builderRequiresJwksIssuerAndAudience() {
    assertThatThrownBy(() -> JwtAgentAuthenticator.builder().issuer(ISSUER).audience(AUDIENCE).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("jwksUri");
    assertThatThrownBy(
            () -> JwtAgentAuthenticator.builder().jwksUri(jwksUri).audience(AUDIENCE).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("issuer");
    assertThatThrownBy(() -> JwtAgentAuthenticator.builder().jwksUri(jwksUri).issuer(ISSUER).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("audience");
  }

  @Test
  void builderRejectsBadArgumentsNamingTheParameter() {
    JwtAgentAuthenticator.Builder builder = JwtAgentAuthenticator.builder();
    assertThatThrownBy(() -> builder.jwksUri(URI.create("/relative")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("jwksUri");
    assertThatThrownBy(() -> builder.jwksUri(URI.create("file:///etc/jwks.json")))
        .hasMessageContaining("jwksUri");
    assertThatThrownBy(() -> builder.issuer(" ")).hasMessageContaining("issuer");
    assertThatThrownBy(() -> builder.audience("")).hasMessageContaining("audience");
    assertThatThrownBy(() -> builder.identityClaim(" ")).hasMessageContaining("identityClaim");
    assertThatThrownBy(() -> builder.clockSkew(Duration.ofSeconds(-1)))
        .hasMessageContaining("clockSkew");
    assertThatThrownBy(() -> builder.algorithms("HS256")).hasMessageContaining("algorithms");
    assertThatThrownBy(() -> builder.algorithms("none")).hasMessageContaining("algorithms");
    assertThatThrownBy(() -> builder.algorithms()).hasMessageContaining("algorithms");
    assertThatThrownBy(() -> builder.issuer(nullString()))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("issuer");
  }

  @SuppressWarnings("NullAway")
  private static String nullString() {
    return null;
  }

  @Test
  void toStringNamesTheConfigurationNotSecrets() {
    assertThat(authenticator().toString())
        .contains(jwksUri.toString(), ISSUER, AUDIENCE, "email", "RS256", "ES256");
  }

  @Test
  void rotatedKeysArePickedUpFromTheJwks() throws Exception {
    RSAKey first = new RSAKeyGenerator(2048).keyID("rot-1").generate();
    RSAKey second = new RSAKeyGenerator(2048).keyID("rot-2").generate();
    java.util.concurrent.atomic.AtomicReference<byte[]> served =
        new java.util.concurrent.atomic.AtomicReference<>(
            new JWKSet(first.toPublicJWK()).toString(true).getBytes(StandardCharsets.UTF_8));
    jwksServer.createContext(
        "/rotating.json",
        exchange -> {
          byte[] body = served.get();
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    JwtAgentAuthenticator rotating =
        JwtAgentAuthenticator.builder()
            .jwksUri(jwksUri.resolve("/rotating.json"))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .minRefetchInterval(java.time.Duration.ZERO)
            .build();
    String byFirst = sign(new RSASSASigner(first), JWSAlgorithm.RS256, "rot-1", validClaims().build());
    String bySecond =
        sign(new RSASSASigner(second), JWSAlgorithm.RS256, "rot-2", validClaims().build());
    assertThat(authenticate(rotating, byFirst)).contains("agent@example.com");
    assertThat(authenticate(rotating, bySecond)).isEmpty(); // not published yet
    // the issuer rotates: the JWKS now holds only the second key
    served.set(new JWKSet(second.toPublicJWK()).toString(true).getBytes(StandardCharsets.UTF_8));
    assertThat(authenticate(rotating, bySecond)).contains("agent@example.com");
  }
}
