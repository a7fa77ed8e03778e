-- Complete attempts, retention applied per job. ARGV[2..]: (id, token, return JSON) triples.
-- Returns 1 / 0 per triple (0: the lease is stale and nothing changed).
local now = tick()
local results = {}
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local k = held(id, ARGV[i + 1])
  if k then
    redis.call("ZREM", K_ACTIVE, id)
    clear_lease(k)
    redis.call("HINCRBY", k, "am", 1)
    redis.call("HSET", k, "ret", ARGV[i + 2], "state", "completed")
    finish_into(K_DONE, id, k, now)
    retain(K_DONE, redis.call("HGET", k, "rc_count"), redis.call("HGET", k, "rc_age"), now)
    results[#results + 1] = 1
  else
    results[#results + 1] = 0
  end
end
return results
