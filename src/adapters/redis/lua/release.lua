-- Hand back jobs reserved but never started: same place in line, the attempt un-counted.
-- ARGV[2..]: (id, token) pairs. Returns how many were released.
stamp(tick())
local released = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local k = held(id, ARGV[i + 1])
  if k then
    redis.call("ZREM", K_ACTIVE, id)
    clear_lease(k)
    if redis.call("HINCRBY", k, "as", -1) <= 0 then redis.call("HDEL", k, "pon") end
    redis.call("HSET", k, "state", "waiting")
    local fields = redis.call("HMGET", k, "prio", "seq")
    local score = num(fields[1], 10) * PRIO_SHIFT + num(fields[2], 0)
    redis.call("ZADD", K_WAIT, fmt(score), id)
    if tenancy_on() then tenant_push(id, k, score) end
    released = released + 1
  end
end
if released > 0 then signal_work() end
return released
