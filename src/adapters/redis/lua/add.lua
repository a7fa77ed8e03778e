-- Add jobs, each as if alone: dedup by idempotency key (which outlives the job), then by job id.
-- ARGV[2]: a JSON array with one array per job:
--   [id, name, data, opts, meta, created, priority, delay, attempts, idempotency key ("" none),
--    idempotency ttl, keep-completed count, keep-completed age, keep-failed count, keep-failed age]
--   (the keep-* bounds are "" when unbounded).
-- Returns a JSON array, per job: ["n", state, due ("" none)] | ["d", id, {existing job hash}] |
-- ["r", original id] (the idempotency key outlived its job).
local now = tick()
local jobs = cjson.decode(ARGV[2])
local results = {}
local woke = false
local seq = num(redis.call("HGET", K_META, "seq"), 0)

local function existing(id)
  local fields = redis.pcall("HGETALL", jkey(id))
  if type(fields) == "table" and fields.err == nil and #fields > 0 then
    local map = {}
    for j = 1, #fields, 2 do map[fields[j]] = fields[j + 1] end
    return {"d", id, map}
  end
  return {"r", id}
end

for i, job in ipairs(jobs) do
  local id, idem = job[1], job[10]
  local original = false
  if idem ~= "" then original = redis.call("GET", PFX .. "idem:" .. idem) end
  if original then
    results[i] = existing(original)
  elseif redis.call("EXISTS", jkey(id)) == 1 then
    results[i] = existing(id)
  else
    local k = jkey(id)
    local delay = tonumber(job[8])
    seq = seq + 1
    redis.call("HSET", k, "name", job[2], "data", job[3], "opts", job[4], "meta", job[5], "created", fmt(job[6]),
      "prio", fmt(job[7]), "attempts", fmt(job[9]), "as", "0", "am", "0", "seq", fmt(seq),
      "rc_count", job[12], "rc_age", job[13], "rf_count", job[14], "rf_age", job[15])
    if delay > 0 then
      local due = now + delay
      redis.call("HSET", k, "state", "delayed", "due", fmt(due))
      redis.call("ZADD", K_DELAYED, fmt(due), id)
      redis.call("ZADD", K_MARKER, "LT", fmt(due), "d")
      results[i] = {"n", "delayed", fmt(due)}
    else
      redis.call("HSET", k, "state", "waiting")
      redis.call("ZADD", K_WAIT, fmt(tonumber(job[7]) * PRIO_SHIFT + seq), id)
      woke = true
      results[i] = {"n", "waiting", ""}
    end
    if idem ~= "" then redis.call("SET", PFX .. "idem:" .. idem, id, "PX", fmt(job[11])) end
  end
end
redis.call("HSET", K_META, "seq", fmt(seq))
if woke then signal_work() end
return cjson.encode(results)
