/**
 * The result backend's atomic write: Celery's `SETEX key ttl meta` + `PUBLISH key meta`
 * (spec §d.1), skipped when the stored meta is already SUCCESS (Celery checks that with a
 * separate GET first; here it is part of the same atomic step). Several metas per call:
 * the writes of one tick go out together.
 */
import { LuaScript } from '../../transport/redis/lua.js';

/**
 * KEYS: meta keys. ARGV: ttl, value, ttl, value, ... (ttl 0 = no expiry, plain SET).
 * Returns how many were written.
 */
export const STORE_METAS = new LuaScript(
  'store-metas',
  `
local function is_success(cur)
  local head = '{"status": "'
  if string.sub(cur, 1, #head) == head then
    return string.sub(cur, #head + 1, #head + 8) == 'SUCCESS"'
  end
  local ok, meta = pcall(cjson.decode, cur)
  return ok and type(meta) == 'table' and meta['status'] == 'SUCCESS'
end
local n = 0
for i, key in ipairs(KEYS) do
  local ttl, value = tonumber(ARGV[2 * i - 1]), ARGV[2 * i]
  local cur = redis.call('GET', key)
  if not (cur and is_success(cur)) then
    if ttl > 0 then redis.call('SETEX', key, ttl, value) else redis.call('SET', key, value) end
    redis.call('PUBLISH', key, value)
    n = n + 1
  end
end
return n
`,
);
