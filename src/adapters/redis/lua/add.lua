-- Add jobs, each as if alone: dedup by idempotency key (which outlives the job), then by job id.
-- ARGV[2]: a JSON array with one array per job:
--   [id, idempotency key ("" none), idempotency ttl, delay, priority, [hash field, value, ...]]
-- Returns a JSON array, per job: ["n", state, due ("" none)] | ["d", id, {existing job hash}] |
-- ["r", original id] (the idempotency key outlived its job).
local now = tick()
stamp(now)
local jobs = cjson.decode(ARGV[2])
local results = {}
local seq = num(redis.call("HGET", K_META, "seq"), 0)
local waiting = {} -- score, id, ...: added to `wait` with one command at the end

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
  local id, idem = job[1], job[2]
  local original = false
  if idem ~= "" then original = redis.call("GET", PFX .. "idem:" .. idem) end
  if original then
    results[i] = existing(original)
  elseif redis.call("EXISTS", jkey(id)) == 1 then
    results[i] = existing(id)
  else
    local k = jkey(id)
    local delay = job[4]
    seq = seq + 1
    local fields = job[6]
    fields[#fields + 1] = "seq"
    fields[#fields + 1] = fmt(seq)
    fields[#fields + 1] = "state"
    if delay > 0 then
      local due = now + delay
      fields[#fields + 1] = "delayed"
      fields[#fields + 1] = "due"
      fields[#fields + 1] = fmt(due)
      redis.call("HSET", k, unpack(fields))
      redis.call("ZADD", K_DELAYED, fmt(due), id)
      redis.call("ZADD", K_MARKER, "LT", fmt(due), "d")
      results[i] = {"n", "delayed", fmt(due)}
    else
      fields[#fields + 1] = "waiting"
      redis.call("HSET", k, unpack(fields))
      waiting[#waiting + 1] = fmt(job[5] * PRIO_SHIFT + seq)
      waiting[#waiting + 1] = id
      results[i] = {"n", "waiting", ""}
    end
    if idem ~= "" then redis.call("SET", PFX .. "idem:" .. idem, id, "PX", fmt(job[3])) end
  end
end
for_chunks(waiting, function(part) redis.call("ZADD", K_WAIT, unpack(part)) end)
if tenancy_on() then
  for j = 1, #waiting, 2 do tenant_push(waiting[j + 1], jkey(waiting[j + 1]), tonumber(waiting[j])) end
end
redis.call("HSET", K_META, "seq", fmt(seq))
if #waiting > 0 then signal_work() end
return cjson.encode(results)
