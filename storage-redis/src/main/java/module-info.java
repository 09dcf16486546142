/**
 * Redis storage (Lettuce): registry and broker shared by many proxy nodes; bodies cross Redis in
 * bounded chunks; nodes wake each other by pub/sub.
 */
module dev.invertingproxy.storage.redis {
  requires transitive dev.invertingproxy;
  requires transitive lettuce.core; // RedisStorage.Builder takes Lettuce's client, URI, resources
  requires static org.jspecify; // annotations only

  exports dev.invertingproxy.storage.redis;

  provides dev.invertingproxy.spi.StorageProvider with
      dev.invertingproxy.storage.redis.RedisStorageProvider;
}
