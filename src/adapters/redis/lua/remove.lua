-- Delete a job that is not active. ARGV[2] id. Returns 1 / 0. Its idempotency key stays.
stamp(tick())
local id = ARGV[2]
local k = jkey(id)
if redis.call("EXISTS", k) == 0 then return 0 end
if redis.call("TYPE", k)["ok"] == "hash" and redis.call("HGET", k, "state") == "active" then return 0 end
delete_job(id)
return 1
