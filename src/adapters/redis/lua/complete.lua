-- Complete attempts, retention applied per job. ARGV[2]: JSON array of [id, token, return JSON].
-- Returns one character per triple, as one string: "1" done, "0" the lease is stale (nothing changed).
-- Jobs kept for no time (remove_on_complete=True) while no older completed job exists are simply gone:
-- their removal from `active` and their deletion are batched into one command each.
local now = tick()
stamp(now)
local results = {}
local finished_at = fmt(now)
local none_completed = redis.call("ZCARD", K_DONE) == 0
local gone_ids, gone_keys, gone = {}, {}, {}
for _, entry in ipairs(cjson.decode(ARGV[2])) do
  local id, token = entry[1], entry[2]
  local k = jkey(id)
  local f = redis.pcall("HMGET", k, "state", "tok", "am", "rc_count", "rc_age")
  local held_now = f.err == nil and f[1] == "active" and f[2] == token and not gone[id]
  if held_now and tenancy_on() then tenant_left(k) end
  if held_now and f[4] == "0" and none_completed then
    gone[id] = true
    gone_ids[#gone_ids + 1] = id
    gone_keys[#gone_keys + 1] = k
    gone_keys[#gone_keys + 1] = lkey(id)
    results[#results + 1] = "1"
  elseif held_now then
    local order = redis.call("HINCRBY", K_META, "fseq", 1)
    redis.call("ZREM", K_ACTIVE, id)
    redis.call("HDEL", k, "tok", "lnum")
    redis.call("HSET", k, "am", fmt(num(f[3], 0) + 1), "ret", entry[3], "state", "completed", "fon", finished_at)
    redis.call("ZADD", K_DONE, order, id)
    retain(K_DONE, f[4], f[5], now)
    none_completed = redis.call("ZCARD", K_DONE) == 0
    results[#results + 1] = "1"
  else
    results[#results + 1] = "0"
  end
end
for_chunks(gone_ids, function(part) redis.call("ZREM", K_ACTIVE, unpack(part)) end)
for_chunks(gone_keys, function(part) redis.call("DEL", unpack(part)) end)
return table.concat(results)
