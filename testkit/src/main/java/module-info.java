/** Conformance suites (JUnit 5) that plugins extend. */
module dev.invertingproxy.testkit {
  requires transitive dev.invertingproxy;
  requires transitive dev.invertingproxy.core; // the endpoint kit's API takes a ProxyEngine
  requires transitive org.junit.jupiter.api;
  requires org.assertj.core;
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy.testkit;
}
