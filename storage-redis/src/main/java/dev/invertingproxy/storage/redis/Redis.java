package dev.invertingproxy.storage.redis;

import dev.invertingproxy.StorageException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.function.Supplier;

/**
 * One node's command connection and key names. Every Redis failure leaves here as a {@link
 * StorageException} (the proxy answers 503 with its reason). Callers are never Lettuce's own
 * threads: the synchronous API blocks.
 */
final class Redis {
  final String prefix;
  final String node;
  private final RedisCommands<String, byte[]> commands;
  private final RedisAsyncCommands<String, byte[]> async;
  private final byte[] prefixBytes;

  Redis(StatefulRedisConnection<String, byte[]> connection, String prefix, String node) {
    this.commands = connection.sync();
    this.async = connection.async();
    this.prefix = prefix;
    this.node = node;
    this.prefixBytes = Encoding.utf8(prefix);
  }

  // ------------------------------------------------------------------ keys and channels

  String request(String id) {
    return prefix + ":r:" + id;
  }

  String queue(String backend) {
    return prefix + ":q:" + backend;
  }

  String cancelNotices(String backend) {
    return prefix + ":cn:" + backend;
  }

  String requestBody(String id) {
    return prefix + ":ib:" + id;
  }

  String responseBody(String id) {
    return prefix + ":ob:" + id;
  }

  String alive(String someNode) {
    return prefix + ":n:" + someNode;
  }

  String nodeChannel(String someNode) {
    return prefix + ":ch:" + someNode;
  }

  String pendingChannel() {
    return prefix + ":pending";
  }

  String cancelChannel() {
    return prefix + ":cancel";
  }

  String registryChannel() {
    return prefix + ":registry";
  }

  /** Goodbyes of agents (message: backend, newline, agent ID). */
  String leftChannel() {
    return prefix + ":left";
  }

  String backends() {
    return prefix + ":backends";
  }

  String seen() {
    return prefix + ":seen";
  }

  String used() {
    return prefix + ":used";
  }

  /** One backend's agents: agent ID → last poll in epoch ms, negated once it left. */
  String agents(String backendId) {
    return prefix + ":ag:" + backendId;
  }

  /** The request ID in a request key, or null if {@code key} is not one. */
  String requestIdOf(String key) {
    String head = prefix + ":r:";
    return key.startsWith(head) ? key.substring(head.length()) : null;
  }

  // ------------------------------------------------------------------ commands

  RedisCommands<String, byte[]> commands() {
    return commands;
  }

  /** For fire-and-forget housekeeping only (lease renewals, heartbeats). */
  RedisAsyncCommands<String, byte[]> async() {
    return async;
  }

  /** Runs a script; {@code args} follow the prefix (ARGV[1]). */
  <T> T eval(Script script, ScriptOutputType type, String[] keys, byte[]... args) {
    byte[][] values = new byte[args.length + 1][];
    values[0] = prefixBytes;
    System.arraycopy(args, 0, values, 1, args.length);
    return call(
        () -> {
          try {
            return commands.evalsha(script.sha, type, keys, values);
          } catch (RedisNoScriptException e) {
            return commands.eval(script.text, type, keys, values); // loads it again
          }
        });
  }

  /** Runs a command; a Redis failure becomes a {@link StorageException}. */
  <T> T call(Supplier<T> command) {
    try {
      return command.get();
    } catch (RedisException e) {
      throw unavailable(e);
    }
  }

  static StorageException unavailable(Throwable e) {
    String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return new StorageException("the storage (Redis) is unavailable: " + reason, e);
  }

  static byte[] bytes(String value) {
    return Encoding.utf8(value);
  }

  static byte[] bytes(long value) {
    return Encoding.utf8(Long.toString(value));
  }
}
