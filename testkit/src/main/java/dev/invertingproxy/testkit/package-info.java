/**
 * Conformance suites: a plugin is done when it passes its kit.
 *
 * <p>Starting points:
 *
 * <ul>
 *   <li>a storage: extend {@link dev.invertingproxy.testkit.AbstractStorageConformanceTest} and
 *       implement {@code newStorage(StorageOptions)};
 *   <li>an agent transport: extend {@link
 *       dev.invertingproxy.testkit.AbstractAgentTransportConformanceTest} and implement {@code
 *       newTransport(AgentConfig)};
 *   <li>a proxy endpoint (a server binding of the engine): extend {@link
 *       dev.invertingproxy.testkit.AbstractProxyEndpointConformanceTest} and implement {@code
 *       startEndpoint(ProxyEngine)}, {@code stopEndpoint()} and {@code newStorage()}.
 * </ul>
 *
 * <p>Optional features are declared as {@link dev.invertingproxy.testkit.Capability capabilities};
 * tests a plugin cannot pass yet are listed, with a reason, in its {@code knownGaps()}. The raw
 * peers the kits use ({@link dev.invertingproxy.testkit.ScriptedHttpServer}, {@link
 * dev.invertingproxy.testkit.RawHttpBackend}, {@link dev.invertingproxy.testkit.RawHttpClient}) are
 * public for plugins' own tests.
 */
@NullMarked
package dev.invertingproxy.testkit;

import org.jspecify.annotations.NullMarked;
