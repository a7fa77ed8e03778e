-- Renew leases. ARGV[2] lease ms, then (id, token) pairs. Returns the ids of the leases already lost.
local now = tick()
stamp(now)
local lease_ms = tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local k = held(id, ARGV[i + 1])
  if k then
    redis.call("ZADD", K_ACTIVE, fmt(now + lease_ms), id)
  else
    lost[#lost + 1] = id
  end
end
return lost
