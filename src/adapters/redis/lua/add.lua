-- Add jobs, each as if alone: dedup by idempotency key (which outlives the job), then by job id.
-- ARGV[2] = number of jobs, then 15 fields per job:
--   id, name, data, opts, meta, created, priority, delay, attempts, idempotency key ("" none),
--   idempotency ttl, keep-completed count, keep-completed age, keep-failed count, keep-failed age.
-- Returns per job: {"new", state, due} | {"dup", id, <HGETALL of the existing job>} | {"removed", original id}.
local now = tick()
local n = tonumber(ARGV[2])
local results = {}
local woke = false
for i = 0, n - 1 do
  local b = 2 + i * 15
  local id, idem = ARGV[b + 1], ARGV[b + 10]
  local original = false
  if idem ~= "" then original = redis.call("GET", PFX .. "idem:" .. idem) end
  if original then
    if redis.call("TYPE", jkey(original))["ok"] == "hash" then
      results[#results + 1] = {"dup", original, redis.call("HGETALL", jkey(original))}
    else
      results[#results + 1] = {"removed", original}
    end
  elseif redis.call("EXISTS", jkey(id)) == 1 then
    if redis.call("TYPE", jkey(id))["ok"] == "hash" then
      results[#results + 1] = {"dup", id, redis.call("HGETALL", jkey(id))}
    else
      results[#results + 1] = {"removed", id}
    end
  else
    local k = jkey(id)
    redis.call("HSET", k, "name", ARGV[b + 2], "data", ARGV[b + 3], "opts", ARGV[b + 4], "meta", ARGV[b + 5],
      "created", ARGV[b + 6], "prio", ARGV[b + 7], "attempts", ARGV[b + 9], "as", "0", "am", "0",
      "rc_count", ARGV[b + 12], "rc_age", ARGV[b + 13], "rf_count", ARGV[b + 14], "rf_age", ARGV[b + 15])
    local delay = tonumber(ARGV[b + 8])
    if delay > 0 then
      make_delayed(id, k, now + delay)
      results[#results + 1] = {"new", "delayed", fmt(now + delay)}
    else
      make_waiting(id, k)
      woke = true
      results[#results + 1] = {"new", "waiting", ""}
    end
    if idem ~= "" then redis.call("SET", PFX .. "idem:" .. idem, id, "PX", ARGV[b + 11]) end
  end
end
if woke then signal_work() end
return results
