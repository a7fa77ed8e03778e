-- Complete attempts, retention applied per job. ARGV[2]: JSON array of [id, token, return JSON].
-- Returns one character per triple, as one string: "1" done, "0" the lease is stale (nothing changed).
local now = tick()
local results = {}
local finished_at = fmt(now)
for _, entry in ipairs(cjson.decode(ARGV[2])) do
  local id, token = entry[1], entry[2]
  local k = jkey(id)
  local f = redis.pcall("HMGET", k, "state", "tok", "am", "rc_count", "rc_age")
  if f.err == nil and f[1] == "active" and f[2] == token and f[4] == "0" and redis.call("ZCARD", K_DONE) == 0 then
    redis.call("ZREM", K_ACTIVE, id) -- kept for no time (remove_on_complete=True) and none older: just gone
    redis.call("DEL", k)
    results[#results + 1] = "1"
  elseif f.err == nil and f[1] == "active" and f[2] == token then
    local order = redis.call("HINCRBY", K_META, "fseq", 1)
    redis.call("ZREM", K_ACTIVE, id)
    redis.call("HDEL", k, "tok", "lnum")
    redis.call("HSET", k, "am", fmt(num(f[3], 0) + 1), "ret", entry[3], "state", "completed", "fon", finished_at)
    redis.call("ZADD", K_DONE, order, id)
    retain(K_DONE, f[4], f[5], now)
    results[#results + 1] = "1"
  else
    results[#results + 1] = "0"
  end
end
return table.concat(results)
