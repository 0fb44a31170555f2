/**
 * The transport's atomic operations, one Lua script each (bullmq's habit). They keep
 * kombu's layout: what they write into `unacked` / `unacked_index` is exactly what a Python
 * worker writes, so Python restores our messages and we restore theirs.
 */
import { LuaScript } from './lua.js';

/** Calls `cmd key a1 a2 ...` in chunks (Lua's unpack has a stack limit). */
const CHUNKED = `
local function chunked(cmd, key, list, first, last)
  local i = first
  while i <= last do
    local j = math.min(i + 999, last)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end
`;

/**
 * Acks, then claims up to N messages, atomically (no window in which a popped message is
 * in neither a list nor `unacked`).
 *
 * KEYS: unacked, unacked_index, redelivery counts, the consumer's claim record, then the list
 *       keys in serving order.
 * ARGV: now (epoch seconds), max messages, claim id, claim record TTL (seconds), track ("1":
 *       the caller's connection tracks keys, see below), number of tags to ack, the tags, the
 *       queue name of each list key (JSON-quoted, Python's spelling), then optionally a
 *       pre-popped message: its key number (1-based among the list keys) and the envelope
 *       (BRPOP wake-up mode).
 * Returns a flat array: key number, envelope, delivery tag, redelivery count, ... per message.
 *
 * With track "1", a claim that drained every list reads each one (LLEN) last: on a connection
 * with CLIENT TRACKING on (default mode) that read makes Redis invalidate the list for us at
 * its next write by anyone else, exactly once (see wakeup.ts).
 *
 * When it claims something it also overwrites the consumer's claim record with the claim id
 * and, per message, key number, tag, envelope length, count and whether the envelope was
 * quoted (below): a consumer whose connection dropped before the reply arrived gets those
 * messages with RECLAIM, instead of leaving them in `unacked` until the visibility timeout.
 *
 * The `unacked` value is `[<envelope>, "<exchange>", "<routing_key>"]` as kombu's QoS.append
 * writes it; exchange and routing key come from the envelope's delivery_info. Bad input must
 * not make that value harmful to anyone's restore pass (ours or kombu's, which reads it with
 * json.loads and pushes the message to the queue its routing key names):
 * - an envelope without delivery_info (or without a string exchange and routing key) is
 *   recorded with exchange "" and the queue it came from, so a restore returns it there (not
 *   into the Redis key "" or kombu's `ae.undeliver`);
 * - a list item that is not a JSON object is recorded JSON-quoted (a string), so the value
 *   stays valid JSON: kombu logs "Could not restore message" and drops it, ours puts the text
 *   back; raw, it would make every kombu restore pass fail at that entry.
 */
export const CLAIM = new LuaScript(
  'claim',
  `${CHUNKED}
local unacked, index, counts, record = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = ARGV[1]
local want = tonumber(ARGV[2])
local claim_id, record_ttl = ARGV[3], ARGV[4]
local track = ARGV[5] == '1'
local nack = tonumber(ARGV[6])
-- ARGV[queues + i] is the quoted queue name of list key i.
local nkeys, queues = #KEYS - 4, 6 + nack
if nack > 0 then
  chunked('ZREM', index, ARGV, 7, 6 + nack)
  chunked('HDEL', unacked, ARGV, 7, 6 + nack)
  chunked('HDEL', counts, ARGV, 7, 6 + nack)
end
local out, hset, zadd, recs = {}, {}, {}, {}
local got = 0
-- The last occurrence of a plain string at or after \`from\`.
local function last(raw, what, from)
  local at = nil
  local i = string.find(raw, what, from, true)
  while i do
    at = i
    i = string.find(raw, what, i + 1, true)
  end
  return at
end
-- Fast path for envelopes in kombu's own spelling (Python's separators, properties last,
-- names without escapes): a few string searches instead of decoding the whole JSON.
local DI, DT = '"delivery_info": {"exchange": "', '"delivery_tag": "'
local function fields_fast(raw)
  local from = math.max(1, #raw - 2048)
  local di = last(raw, DI, from)
  local dt = last(raw, DT, from)
  if not di or not dt then return nil end
  local ex, rk, rest = string.match(raw, '^([^"\\\\]*)", "routing_key": "([^"\\\\]*)"([^}]*)}', di + #DI)
  local tag = string.match(raw, '^([^"\\\\]*)"}}$', dt + #DT)
  if not ex or not tag then return nil end
  local again
  if rest == '' then again = false
  elseif rest == ', "redelivered": true' then again = true
  else return nil end
  return tag, '"' .. ex .. '"', '"' .. rk .. '"', again
end
-- Also says whether raw is a JSON object (cjson decodes arrays to tables too).
local function fields_slow(raw, keyno)
  local tag, ex, rk, again
  local ok, env = pcall(cjson.decode, raw)
  local object = ok and type(env) == 'table' and string.find(raw, '^%s*{') ~= nil
  if object then
    local p = env['properties']
    if type(p) == 'table' then
      tag = p['delivery_tag']
      local di = p['delivery_info']
      if type(di) == 'table' then
        ex = di['exchange']
        rk = di['routing_key']
        again = di['redelivered']
      end
    end
  end
  if type(tag) ~= 'string' then tag = 'celeriac-untagged-' .. redis.sha1hex(raw) end
  if type(ex) == 'string' and type(rk) == 'string' then
    ex, rk = cjson.encode(ex), cjson.encode(rk)
  else
    ex, rk = '""', ARGV[queues + keyno]
  end
  return tag, ex, rk, again == true, object
end
local function take(keyno, raw)
  local tag, ex, rk, again = fields_fast(raw)
  local object = true
  if not tag then tag, ex, rk, again, object = fields_slow(raw, keyno) end
  local held = raw
  if not object then held = cjson.encode(raw) end
  hset[#hset + 1] = tag
  hset[#hset + 1] = '[' .. held .. ', ' .. ex .. ', ' .. rk .. ']'
  zadd[#zadd + 1] = now
  zadd[#zadd + 1] = tag
  local count = 0
  if again then count = tonumber(redis.call('HGET', counts, tag)) or 1 end
  out[#out + 1] = keyno
  out[#out + 1] = raw
  out[#out + 1] = tag
  out[#out + 1] = count
  recs[#recs + 1] = {keyno, tag, #raw, count, not object}
  got = got + 1
end
local pre = ARGV[queues + nkeys + 1]
if pre and pre ~= '' then take(tonumber(pre), ARGV[queues + nkeys + 2]) end
-- RPOP with a count needs Redis 6.2; older servers answer an error, then pop one by one.
local counted = true
for i = 5, #KEYS do
  if got >= want then break end
  if counted then
    local items = redis.pcall('RPOP', KEYS[i], want - got)
    if type(items) == 'table' and items['err'] then
      counted = false
    elseif items then
      for _, raw in ipairs(items) do take(i - 4, raw) end
    end
  end
  if not counted then
    local raw = redis.call('RPOP', KEYS[i])
    while raw and got < want do
      take(i - 4, raw)
      if got < want then raw = redis.call('RPOP', KEYS[i]) end
    end
  end
end
if got > 0 then
  chunked('HSET', unacked, hset, 1, #hset)
  chunked('ZADD', index, zadd, 1, #zadd)
  redis.call('SET', record, cjson.encode({claim_id, recs, now}), 'EX', record_ttl)
end
if track and got < want then
  for i = 5, #KEYS do redis.call('LLEN', KEYS[i]) end
end
return out
`,
);

/**
 * The messages of a claim whose reply never arrived (the connection dropped while it was in
 * flight), from the consumer's claim record: those still in `unacked` with the very
 * `unacked_index` score that claim gave them are returned as CLAIM returns them. A message
 * whose score changed was restored and claimed again by someone else in the meantime (a worker
 * with a shorter visibility timeout, or a restore pass while this connection was down): it is
 * theirs now, and handing it out again would run it twice. Nothing when the record is of
 * another claim (the lost one never ran, or took nothing). Scores are left as they are and
 * the record stays (the next claim replaces it), so a RECLAIM whose own reply is lost can be
 * repeated; the held messages' scores are refreshed by the consumer's touches from then on.
 * KEYS: unacked, unacked_index, the claim record. ARGV: now (epoch seconds, unused), claim id.
 */
export const RECLAIM = new LuaScript(
  'reclaim',
  `
local stored = redis.call('GET', KEYS[3])
if not stored then return {} end
local rec = cjson.decode(stored)
if rec[1] ~= ARGV[2] then return {} end
local at = tonumber(rec[3])
local out = {}
for _, m in ipairs(rec[2]) do
  local keyno, tag, len, count, quoted = m[1], m[2], m[3], m[4], m[5]
  local value = redis.call('HGET', KEYS[1], tag)
  local score = redis.call('ZSCORE', KEYS[2], tag)
  if value and score and at and tonumber(score) == at then
    out[#out + 1] = keyno
    -- kombu's value is [<envelope>, "<exchange>", "<routing_key>"]: the envelope follows '['
    -- (JSON-quoted when it was not a JSON object, see CLAIM).
    if quoted == true then
      out[#out + 1] = cjson.decode(value)[1]
    else
      out[#out + 1] = string.sub(value, 2, 1 + len)
    end
    out[#out + 1] = tag
    out[#out + 1] = count
  end
end
return out
`,
);

/**
 * Moves a held message from `unacked` into celeriac's due-time store.
 * KEYS: unacked, unacked_index, delayed (zset), delayed messages (hash).
 * ARGV: tag, due (epoch ms), list key to return it to, envelope.
 * Returns 1, or 0 when the message is no longer held (acked or restored meanwhile).
 */
export const DEFER = new LuaScript(
  'defer',
  `
local tag = ARGV[1]
if redis.call('HEXISTS', KEYS[1], tag) == 0 then return 0 end
redis.call('HDEL', KEYS[1], tag)
redis.call('ZREM', KEYS[2], tag)
redis.call('HSET', KEYS[4], tag, string.len(ARGV[3]) .. ':' .. ARGV[3] .. ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], tag)
return 1
`,
);

/**
 * Moves due deferred messages to the consuming end (RPUSH) of their lists. Safe to run from
 * several processes at once: each message moves exactly once.
 * KEYS: delayed (zset), delayed messages (hash). ARGV: now (epoch ms), max messages.
 * Returns {moved, due time of the next one (epoch ms) or ''}.
 */
export const PROMOTE = new LuaScript(
  'promote',
  `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, tag in ipairs(due) do
  local v = redis.call('HGET', KEYS[2], tag)
  if v then
    local colon = string.find(v, ':', 1, true)
    local n = tonumber(string.sub(v, 1, colon - 1))
    redis.call('RPUSH', string.sub(v, colon + 1, colon + n), string.sub(v, colon + n + 1))
    redis.call('HDEL', KEYS[2], tag)
  end
  redis.call('ZREM', KEYS[1], tag)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or ''}
`,
);

/**
 * Puts held messages back on their lists (kombu's restore_by_tag, atomically per message).
 * KEYS: unacked, unacked_index, redelivery counts.
 * ARGV: mode ('stale' = only if its index score is ≤ the cutoff; 'owned' = ours),
 *       cutoff (epoch seconds), end ('L' = LPUSH, back of the queue; 'R' = RPUSH, served next),
 *       counts TTL in seconds ('0' = do not count it as a redelivery),
 *       then triples: tag, list key, envelope to push.
 * A stale index entry whose message is gone is removed, as kombu does.
 * Returns how many messages were put back.
 */
export const RESTORE = new LuaScript(
  'restore',
  `
local mode, cutoff, side, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local n = 0
for i = 5, #ARGV, 3 do
  local tag, key, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local held = redis.call('HEXISTS', KEYS[1], tag) == 1
  local ok = held
  if mode == 'stale' then
    local score = tonumber(redis.call('ZSCORE', KEYS[2], tag))
    local stale = score ~= nil and score <= cutoff
    if stale and not held then redis.call('ZREM', KEYS[2], tag) end
    ok = held and stale
  end
  if ok then
    redis.call('ZREM', KEYS[2], tag)
    redis.call('HDEL', KEYS[1], tag)
    if side == 'L' then redis.call('LPUSH', key, payload) else redis.call('RPUSH', key, payload) end
    if ttl > 0 then redis.call('HINCRBY', KEYS[3], tag, 1) end
    n = n + 1
  end
end
if n > 0 and ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
return n
`,
);

/**
 * redis-py's Lock release, byte for byte (SHA-1 c3f8721c..., as in redis_unacked_restore):
 * kombu's unacked_mutex is deleted only by its owner.
 */
export const RELEASE_MUTEX = new LuaScript(
  'release-mutex',
  "\n        local token = redis.call('get', KEYS[1])\n        if not token or token ~= ARGV[1] then\n" +
    "            return 0\n        end\n        redis.call('del', KEYS[1])\n        return 1\n    ",
);

/** Every transport script (loaded after connecting). */
export const TRANSPORT_SCRIPTS: readonly LuaScript[] = [
  CLAIM,
  RECLAIM,
  DEFER,
  PROMOTE,
  RESTORE,
  RELEASE_MUTEX,
];

/**
 * Moves hand-off lists (handoff.ts) back to their queues: each element from the list's tail to
 * the queue's consuming end (LMOVE RIGHT RIGHT), and the list's registry entry goes.
 * KEYS: the registry (sorted set of `[<list>, <queue key>]` JSON members, scored with their
 * last refresh). ARGV: "lists" and the lists to return (a closing consumer's), or "stale" and
 * a cutoff (epoch seconds): every entry scored before it (consumers that went away).
 * Returns the number of messages moved.
 */
export const RETURN_HANDOFFS = new LuaScript(
  'return_handoffs',
  `
local registry, mode = KEYS[1], ARGV[1]
local members
if mode == 'stale' then
  members = redis.call('ZRANGEBYSCORE', registry, '-inf', '(' .. ARGV[2])
else
  members = redis.call('ZRANGE', registry, 0, -1)
end
local wanted = {}
if mode == 'lists' then
  for i = 2, #ARGV do wanted[ARGV[i]] = true end
end
local moved = 0
for _, member in ipairs(members) do
  local ok, m = pcall(cjson.decode, member)
  local valid = ok and type(m) == 'table' and type(m[1]) == 'string' and type(m[2]) == 'string'
  if valid and (mode == 'stale' or wanted[m[1]]) then
    while redis.call('LMOVE', m[1], m[2], 'RIGHT', 'RIGHT') do moved = moved + 1 end
    redis.call('ZREM', registry, member)
  elseif not valid and mode == 'stale' then
    redis.call('ZREM', registry, member)
  end
end
return moved
`,
);
