package dev.invertingproxy.storage.redis;

/**
 * The Lua scripts that make each broker step atomic across proxy nodes. {@code ARGV[1]} is always
 * the key prefix. Keys under the prefix ({@code P}):
 *
 * <ul>
 *   <li>{@code P:r:ID} hash, one request: {@code b} backend, {@code s} state ({@code W} waiting,
 *       {@code C} claimed, {@code S} response streaming, {@code D} done, {@code G} client gone
 *       after the response started, {@code X} cancelled or failed), {@code o} owner node (holds
 *       the client), {@code h} head, {@code t} start time, {@code u} user, {@code cl} body length,
 *       {@code g} claim generation, {@code rn} reader node, {@code st} "a body chunk was served",
 *       {@code rel} "given back once", {@code rh}/{@code rcl}/{@code wn} response head, length and
 *       writer node, {@code rb} the whole response body when it fits in one chunk, {@code at} answered at, {@code fk}/{@code fm} failure kind and message;
 *   <li>{@code P:q:BACKEND} sorted set of waiting IDs, scored by when they may be offered (again);
 *   <li>{@code P:cn:BACKEND} list of cancel notices; {@code P:ib:ID} and {@code P:ob:ID} lists of
 *       body chunks (request and response), at most a window long;
 *   <li>{@code P:n:NODE} a node's heartbeat; channels {@code P:ch:NODE} (a key changed),
 *       {@code P:pending} and {@code P:cancel} (message: the backend ID).
 * </ul>
 *
 * <p>Scripts read keys derived from IDs inside the script, so they need one Redis server (or
 * Sentinel-managed primary), not Redis Cluster.
 */
final class Scripts {
  private Scripts() {}

  /** KEYS: request, queue. ARGV: prefix, max, id, score, ttl, backend, fields... → 1, 0 full, -1 duplicate. */
  static final Script SUBMIT =
      new Script(
          """
          if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
          if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
          redis.call('HSET', KEYS[1], unpack(ARGV, 7))
          redis.call('PEXPIRE', KEYS[1], ARGV[5])
          redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
          redis.call('PEXPIRE', KEYS[2], ARGV[5])
          redis.call('PUBLISH', ARGV[1] .. ':pending', ARGV[6])
          return 1
          """);

  /**
   * KEYS: queue. ARGV: prefix, now, re-offer time, limit, ttl → {offered IDs, next score or ''}.
   * IDs whose request is no longer waiting, or whose client's node is gone, leave the queue.
   */
  static final Script DRAIN =
      new Script(
          """
          local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
          local out = {}
          for _, id in ipairs(ids) do
            local f = redis.call('HMGET', ARGV[1] .. ':r:' .. id, 's', 'o')
            if f[1] == 'W' and f[2] and redis.call('EXISTS', ARGV[1] .. ':n:' .. f[2]) == 1 then
              redis.call('ZADD', KEYS[1], ARGV[3], id)
              out[#out + 1] = id
            else
              redis.call('ZREM', KEYS[1], id)
            end
          end
          if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
          local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
          return {out, nxt[2] or ''}
          """);

  /** KEYS: queue. ARGV: prefix, now, backend, ids... → how many went back (offered to no poll). */
  static final Script UNOFFER =
      new Script(
          """
          local n = 0
          for i = 4, #ARGV do
            if redis.call('HGET', ARGV[1] .. ':r:' .. ARGV[i], 's') == 'W' then
              redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
              n = n + 1
            end
          end
          if n > 0 then redis.call('PUBLISH', ARGV[1] .. ':pending', ARGV[3]) end
          return n
          """);

  /**
   * KEYS: request, queue. ARGV: prefix, id, backend, node → {'ok', generation, head, start,
   * user, length} or {reason}. Tells the owner node (so it starts pumping the body).
   */
  static final Script CLAIM =
      new Script(
          """
          local f = redis.call('HMGET', KEYS[1], 'b', 's', 'st', 'o', 'cl')
          if f[1] ~= ARGV[3] then return {'unknown'} end
          local s = f[2]
          if s == 'W' then
            if redis.call('EXISTS', ARGV[1] .. ':n:' .. f[4]) == 0 then
              redis.call('HSET', KEYS[1], 's', 'X')
              redis.call('ZREM', KEYS[2], ARGV[2])
              return {'gone'}
            end
            redis.call('ZREM', KEYS[2], ARGV[2])
            redis.call('HSET', KEYS[1], 's', 'C')
          elseif s == 'C' then
            if f[3] == '1' then return {'conflict'} end
          elseif s == 'S' or s == 'D' or s == 'G' then
            return {'answered'}
          else
            return {'cancelled'}
          end
          local g = redis.call('HINCRBY', KEYS[1], 'g', 1)
          redis.call('HSET', KEYS[1], 'rn', ARGV[4])
          if f[5] ~= '0' then redis.call('PUBLISH', ARGV[1] .. ':ch:' .. f[4], KEYS[1]) end
          local h = redis.call('HMGET', KEYS[1], 'h', 't', 'u')
          return {'ok', tostring(g), h[1], h[2], h[3] or '', f[5]}
          """);

  /**
   * KEYS: request, body list. ARGV: prefix, generation ('' for none), field naming the writer
   * node, window, ttl → {'data', chunk}, {'empty'}, {'stale'} or {'gone'}. Tells the writer when
   * the list drops below the window.
   */
  static final Script TAKE =
      new Script(
          """
          local f = redis.call('HMGET', KEYS[1], 'g', 's', ARGV[3])
          if not f[2] or f[2] == 'X' or f[2] == 'G' or f[2] == 'D' then return {'gone'} end
          if ARGV[2] ~= '' and f[1] ~= ARGV[2] then return {'stale'} end
          local c = redis.call('LPOP', KEYS[2])
          if not c then return {'empty'} end
          if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'st', '1') end
          redis.call('PEXPIRE', KEYS[1], ARGV[5])
          redis.call('PEXPIRE', KEYS[2], ARGV[5])
          if f[3] and redis.call('LLEN', KEYS[2]) == tonumber(ARGV[4]) - 1 then
            redis.call('PUBLISH', ARGV[1] .. ':ch:' .. f[3], KEYS[2])
          end
          return {'data', c}
          """);

  /**
   * KEYS: request, body list. ARGV: prefix, chunk, window, ttl, field naming the reader node →
   * 1 pushed, 0 window full, -1 the exchange ended.
   */
  static final Script PUSH =
      new Script(
          """
          local f = redis.call('HMGET', KEYS[1], 's', ARGV[5])
          if not f[1] or f[1] == 'X' or f[1] == 'G' or f[1] == 'D' then return -1 end
          if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
          redis.call('RPUSH', KEYS[2], ARGV[2])
          redis.call('PEXPIRE', KEYS[2], ARGV[4])
          redis.call('PEXPIRE', KEYS[1], ARGV[4])
          if f[2] then redis.call('PUBLISH', ARGV[1] .. ':ch:' .. f[2], KEYS[2]) end
          return 1
          """);

  /**
   * KEYS: request, queue. ARGV: prefix, id, backend, response head, node, length, whole body
   * inline ('1': ARGV[8] is all of it) or not ('0': it follows in the response list) → {'ok',
   * owner}, {'done', answered at}, {'duplicate'}, {'cancelled'} or {'unknown'}.
   */
  static final Script BEGIN_RESPONSE =
      new Script(
          """
          local f = redis.call('HMGET', KEYS[1], 'b', 's', 'o', 'at')
          if f[1] ~= ARGV[3] then return {'unknown'} end
          local s = f[2]
          if s == 'S' or s == 'G' then return {'duplicate'} end
          if s == 'D' then return {'done', f[4]} end
          if s == 'X' then return {'cancelled'} end
          redis.call('ZREM', KEYS[2], ARGV[2])
          if ARGV[7] == '1' then
            redis.call('HSET', KEYS[1], 's', 'S', 'rh', ARGV[4], 'wn', ARGV[5], 'rcl', ARGV[6], 'rb', ARGV[8])
          else
            redis.call('HSET', KEYS[1], 's', 'S', 'rh', ARGV[4], 'wn', ARGV[5], 'rcl', ARGV[6])
          end
          redis.call('PUBLISH', ARGV[1] .. ':ch:' .. f[3], KEYS[1])
          return {'ok', f[3]}
          """);

  /**
   * KEYS: request, response list, request list. ARGV: prefix, final state (D or G), answered at,
   * how long to remember it. Keeps only backend, state and time; tells the writer node.
   */
  static final Script FINISH =
      new Script(
          """
          local f = redis.call('HMGET', KEYS[1], 'wn', 'b')
          local w = f[1]
          redis.call('DEL', KEYS[1])
          if f[2] then
            -- only what tells a late second answer "duplicate" is kept
            redis.call('HSET', KEYS[1], 'b', f[2], 's', ARGV[2], 'at', ARGV[3])
            redis.call('PEXPIRE', KEYS[1], ARGV[4])
          end
          redis.call('DEL', KEYS[2], KEYS[3])
          if w then redis.call('PUBLISH', ARGV[1] .. ':ch:' .. w, KEYS[1]) end
          return 1
          """);

  /**
   * KEYS: request, queue, cancel notices, request list. ARGV: prefix, id, backend, ttl, how long
   * to remember it → 1 withdrawn (now or before), 0 a response started.
   */
  static final Script CANCEL =
      new Script(
          """
          local f = redis.call('HMGET', KEYS[1], 's', 'rn')
          local s = f[1]
          if not s or s == 'X' then return 1 end
          if s == 'S' or s == 'D' or s == 'G' then return 0 end
          redis.call('HSET', KEYS[1], 's', 'X')
          redis.call('PEXPIRE', KEYS[1], ARGV[5])
          redis.call('ZREM', KEYS[2], ARGV[2])
          redis.call('DEL', KEYS[4])
          if s == 'C' then
            redis.call('RPUSH', KEYS[3], ARGV[2])
            redis.call('LTRIM', KEYS[3], -1000, -1)
            redis.call('PEXPIRE', KEYS[3], ARGV[4])
            redis.call('PUBLISH', ARGV[1] .. ':cancel', ARGV[3])
            if f[2] then redis.call('PUBLISH', ARGV[1] .. ':ch:' .. f[2], KEYS[4]) end
          end
          return 1
          """);

  /**
   * KEYS: cancel notices. ARGV: prefix, backend, ttl, ids... Puts notices back that no poll took,
   * bounded and expiring as CANCEL keeps them, and wakes the polls.
   */
  static final Script GIVE_BACK_NOTICES =
      new Script(
          """
          for i = 4, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
          redis.call('LTRIM', KEYS[1], -1000, -1)
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
          redis.call('PUBLISH', ARGV[1] .. ':cancel', ARGV[2])
          return 1
          """);

  /** KEYS: cancel notices → the notices, removed. */
  static final Script TAKE_ALL =
      new Script(
          """
          local ids = redis.call('LRANGE', KEYS[1], 0, -1)
          if #ids > 0 then redis.call('DEL', KEYS[1]) end
          return ids
          """);

  /**
   * KEYS: request, queue. ARGV: prefix, id, backend, now, failure kind, message → 'again'
   * (offered again), 'failed' (the owner is told) or 'no' (not claimed).
   */
  static final Script RELEASE =
      new Script(
          """
          local f = redis.call('HMGET', KEYS[1], 'b', 's', 'rel', 'st', 'o')
          if f[1] ~= ARGV[3] or f[2] ~= 'C' then return 'no' end
          if f[3] == '1' or f[4] == '1' then
            redis.call('HSET', KEYS[1], 's', 'X', 'fk', ARGV[5], 'fm', ARGV[6])
            redis.call('PUBLISH', ARGV[1] .. ':ch:' .. f[5], KEYS[1])
            return 'failed'
          end
          redis.call('HSET', KEYS[1], 's', 'W', 'rel', '1')
          redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
          redis.call('PUBLISH', ARGV[1] .. ':pending', ARGV[3])
          return 'again'
          """);

  /**
   * KEYS: agents of the backend, seen. ARGV: prefix, agent ID, time (ms), backend, forget (ms),
   * tombstone (ms). Records an agent's poll unless it left less than {@code tombstone} before (a
   * late record of a poll from before its goodbye); keeps the backend's latest in {@code seen};
   * drops entries older than {@code forget} once there are many. → 1, or 0 if ignored.
   */
  static final Script AGENT_SEEN =
      new Script(
          """
          local v = redis.call('HGET', KEYS[1], ARGV[2])
          if v and tonumber(v) < 0 and tonumber(ARGV[3]) + tonumber(v) < tonumber(ARGV[6]) then
            return 0
          end
          if v and tonumber(v) < 0 then v = false end
          if not v or tonumber(v) < tonumber(ARGV[3]) then
            redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
          end
          redis.call('PEXPIRE', KEYS[1], ARGV[5])
          local c = redis.call('HGET', KEYS[2], ARGV[4])
          if not c or tonumber(c) < tonumber(ARGV[3]) then
            redis.call('HSET', KEYS[2], ARGV[4], ARGV[3])
          end
          if redis.call('HLEN', KEYS[1]) > 32 then
            local oldest = tonumber(ARGV[3]) - tonumber(ARGV[5])
            local all = redis.call('HGETALL', KEYS[1])
            for i = 1, #all, 2 do
              if math.abs(tonumber(all[i + 1])) < oldest then redis.call('HDEL', KEYS[1], all[i]) end
            end
          end
          return 1
          """);

  /**
   * KEYS: agents of the backend, seen. ARGV: prefix, agent ID, time (ms), backend, forget (ms).
   * Marks the agent as gone (its time negated: later polls' records are ignored for a while), sets
   * the backend's {@code seen} to the latest poll of the agents left, or removes it if none is,
   * and announces it on {@code P:left} (message: backend, newline, agent ID). → 1; 0, and nothing
   * done, for an agent never seen or already gone (a flood of made-up IDs leaves no trace).
   */
  static final Script AGENT_LEFT =
      new Script(
          """
          local was = redis.call('HGET', KEYS[1], ARGV[2])
          if not was or tonumber(was) < 0 then return 0 end
          redis.call('HSET', KEYS[1], ARGV[2], -tonumber(ARGV[3]))
          redis.call('PUBLISH', ARGV[1] .. ':left', ARGV[4] .. '\\n' .. ARGV[2])
          redis.call('PEXPIRE', KEYS[1], ARGV[5])
          local oldest = tonumber(ARGV[3]) - tonumber(ARGV[5])
          local best = nil
          local all = redis.call('HGETALL', KEYS[1])
          for i = 1, #all, 2 do
            local t = tonumber(all[i + 1])
            if math.abs(t) < oldest then
              redis.call('HDEL', KEYS[1], all[i])
            elseif t > 0 and (best == nil or t > best) then
              best = t
            end
          end
          if best then
            redis.call('HSET', KEYS[2], ARGV[4], best)
          else
            redis.call('HDEL', KEYS[2], ARGV[4])
          end
          return 1
          """);

  /** KEYS: hash. ARGV: prefix, field, epoch millis → keeps the larger time. */
  static final Script KEEP_LATEST =
      new Script(
          """
          local c = redis.call('HGET', KEYS[1], ARGV[2])
          if not c or tonumber(c) < tonumber(ARGV[3]) then
            redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
          end
          return 1
          """);
}
