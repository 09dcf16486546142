package dev.invertingproxy.transport.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invertingproxy.Headers;
import dev.invertingproxy.spi.AgentTransport;
import dev.invertingproxy.spi.AgentTransportProvider;
import java.net.URI;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class ProviderDiscoveryTest {

  @Test
  void serviceLoaderFindsTheOkHttpProvider() {
    List<AgentTransportProvider> providers =
        ServiceLoader.load(AgentTransportProvider.class).stream()
            .map(ServiceLoader.Provider::get)
            .collect(Collectors.toList());

    assertThat(providers).hasSize(1);
    AgentTransportProvider provider = providers.get(0);
    assertThat(provider).isInstanceOf(OkHttpAgentTransportProvider.class);
    assertThat(provider.name()).isEqualTo("okhttp");
    assertThat(provider.isAvailable()).isTrue();
    assertThat(provider.priority()).isBetween(0, 10);

    URI proxy = URI.create("http://127.0.0.1:9/");
    try (AgentTransport transport =
        provider.create(TestConfigs.config(proxy, TestConfigs.UNUSED_BACKEND, Headers::empty))) {
      assertThat(transport).isInstanceOf(OkHttpAgentTransport.class);
    }
  }
}
