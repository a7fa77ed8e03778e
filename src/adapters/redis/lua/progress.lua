-- Store progress of the running attempt. ARGV[2] id, ARGV[3] token, ARGV[4] progress JSON. Returns 1 / 0.
stamp(tick())
local k = held(ARGV[2], ARGV[3])
if not k then return 0 end
redis.call("HSET", k, "progress", ARGV[4])
return 1
