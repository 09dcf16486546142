/**
 * Agents that authenticate with OIDC/JWT ID tokens: start with {@link
 * dev.invertingproxy.auth.jwt.JwtAgentAuthenticator#builder()} and give the result to {@code
 * ProxyEngine.Builder.agentAuthenticator}.
 */
@NullMarked
package dev.invertingproxy.auth.jwt;

import org.jspecify.annotations.NullMarked;
