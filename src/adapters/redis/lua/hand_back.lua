-- Give back a claimed job this worker has no handler for (ADR 0017): the attempt un-counted, one more
-- hand-back on the job, delayed by ARGV[4] ms ("0" = waiting at once) so another worker may claim it.
-- ARGV[2] id, ARGV[3] token, ARGV[4] delay ms. Returns "" if the lease is stale, else the new state.
local now = tick()
stamp(now)
local id = ARGV[2]
local k = held(id, ARGV[3])
if not k then return "" end
redis.call("ZREM", K_ACTIVE, id)
clear_lease(k)
if redis.call("HINCRBY", k, "as", -1) <= 0 then redis.call("HDEL", k, "pon") end
redis.call("HINCRBY", k, "hb", 1)
local delay = tonumber(ARGV[4])
if delay > 0 then
  make_delayed(id, k, now + delay)
  return "delayed"
end
make_waiting(id, k)
signal_work()
return "waiting"
