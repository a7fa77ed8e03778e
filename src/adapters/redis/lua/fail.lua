-- Record a failed attempt and store the worker runtime's decision.
-- ARGV[2] id, ARGV[3] token, ARGV[4] reason, ARGV[5] stacktrace ("" = reason), ARGV[6] retry delay ms
-- ("" = no more attempts). Returns "" if the lease is stale, else the new state.
local now = tick()
stamp(now)
local id = ARGV[2]
local k = held(id, ARGV[3])
if not k then return "" end
redis.call("ZREM", K_ACTIVE, id)
clear_lease(k)
redis.call("HINCRBY", k, "am", 1)
redis.call("HSET", k, "reason", ARGV[4])
if ARGV[5] ~= "" then push_stack(k, ARGV[5]) else push_stack(k, ARGV[4]) end
local retry = ARGV[6] ~= "" and num(redis.call("HGET", k, "as"), 0) < num(redis.call("HGET", k, "attempts"), 1)
if retry and tonumber(ARGV[6]) > 0 then
  make_delayed(id, k, now + tonumber(ARGV[6]))
  return "delayed"
elseif retry then
  make_waiting(id, k)
  signal_work()
  return "waiting"
end
dead_letter(id, k, now)
return "failed"
