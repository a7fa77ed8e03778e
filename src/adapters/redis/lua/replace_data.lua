-- Key rotation (ADR 0023): replace a job's data if it is not active and still holds the data the
-- caller read. ARGV[2] id, ARGV[3] expected data, ARGV[4] new data. Returns 1 / 0.
local k = jkey(ARGV[2])
if redis.call("TYPE", k)["ok"] ~= "hash" then return 0 end
local fields = redis.call("HMGET", k, "state", "data")
if fields[1] == false or fields[1] == "active" or fields[2] ~= ARGV[3] then return 0 end
redis.call("HSET", k, "data", ARGV[4])
return 1
