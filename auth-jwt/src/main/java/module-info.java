/**
 * Agent authentication by OIDC/JWT ID tokens: {@link
 * dev.invertingproxy.auth.jwt.JwtAgentAuthenticator} validates {@code Authorization: Bearer <ID
 * token>} against the issuer's JWKS with Nimbus JOSE+JWT.
 */
module dev.invertingproxy.auth.jwt {
  requires transitive dev.invertingproxy.core; // AgentAuthenticator is our public supertype
  requires com.nimbusds.jose.jwt; // not in our public signatures
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy.auth.jwt;
}
