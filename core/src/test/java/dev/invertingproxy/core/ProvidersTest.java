package dev.invertingproxy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invertingproxy.ProviderNotFoundException;
import org.junit.jupiter.api.Test;

/** core alone has no plugins on its class path: discovery fails naming the artifact to add. */
class ProvidersTest {
  @Test
  void missingStorageNamesTheArtifact() {
    assertThatThrownBy(() -> Providers.storageProvider(Providers.storageUri("memory:")))
        .isInstanceOf(ProviderNotFoundException.class)
        .hasMessageContaining("inverting-proxy-storage-inmemory");
    assertThatThrownBy(() -> Providers.storageProvider(Providers.storageUri("redis://127.0.0.1:6379")))
        .isInstanceOf(ProviderNotFoundException.class)
        .hasMessageContaining("inverting-proxy-storage-redis");
    assertThatThrownBy(() -> Providers.storageProvider(Providers.storageUri("mongo://x")))
        .isInstanceOf(ProviderNotFoundException.class)
        .hasMessageContaining("known schemes");
  }

  @Test
  void missingTransportNamesTheArtifact() {
    assertThatThrownBy(() -> Providers.agentTransportProvider(getClass().getClassLoader()))
        .isInstanceOf(ProviderNotFoundException.class)
        .hasMessageContaining("inverting-proxy-transport-okhttp");
  }

  @Test
  void bareSchemeIsAcceptedAsStorageUri() {
    assertThat(Providers.storageUri("memory:").getScheme()).isEqualTo("memory");
    assertThatThrownBy(() -> Providers.storageUri("no-scheme"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void errorMappingIsOnePlace() {
    assertThat(ErrorMapping.status(new dev.invertingproxy.UnknownRequestException("x"))).isEqualTo(404);
    assertThat(ErrorMapping.status(new dev.invertingproxy.DuplicateResponseException("x"))).isEqualTo(409);
    assertThat(ErrorMapping.status(new dev.invertingproxy.MalformedMessageException("x"))).isEqualTo(400);
    assertThat(ErrorMapping.status(new dev.invertingproxy.LimitExceededException(431, "x"))).isEqualTo(431);
    assertThat(ErrorMapping.status(new IllegalStateException("boom"))).isEqualTo(500);
    assertThat(ErrorMapping.reason(new IllegalStateException("secret detail"))).doesNotContain("secret");
  }
}
