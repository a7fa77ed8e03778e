-- Start up to max jobs: due delays promoted and expired leases recovered first, then the waiting jobs
-- in priority order (FIFO within a priority), within the rate-limit window. Every start counts an attempt.
-- A record that is not a well-formed job hash is dead-lettered here with its bytes.
-- ARGV[2] worker id, ARGV[3] max jobs, ARGV[4] lease ms, ARGV[5] limiter max ("" none), ARGV[6] duration.
-- Returns {wake_at ("" none), now, job, job, ...}: each job one JSON array, rendered here by
-- concatenation (the stored JSON fields are spliced in as they are, nothing is re-encoded):
--   [token, id, name, data, opts (as a string), meta, created, as, am, progress, ret, reason, stack, pon, fon, hb]
-- A field that is not valid JSON makes that one element unparseable: the client then reads the hash
-- field by field and dead-letters the job if it does not decode.
local REQUIRED = {"name", "data", "opts", "meta", "created", "prio", "attempts"}
local READ = {"name", "data", "opts", "meta", "created", "prio", "attempts", "as", "am", "progress", "ret", "reason",
  "stack", "fon", "malformed", "hb"}
local now = tick()
local worker, max_jobs, lease_ms = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local claimed = {}
local function reply(wake)
  table.insert(claimed, 1, fmt(now))
  table.insert(claimed, 1, wake)
  return claimed
end
if is_paused() or max_jobs <= 0 then return reply("") end
local budget = max_jobs
local limit_max, duration = tonumber(ARGV[5]), tonumber(ARGV[6])
local window_end = nil
if limit_max then
  local window = math.floor(now / duration)
  window_end = (window + 1) * duration
  if num(redis.call("HGET", K_META, "lwin"), -1) ~= window then
    stamp(now)
    redis.call("HSET", K_META, "lwin", fmt(window), "lstarted", "0")
  end
  budget = math.min(budget, limit_max - num(redis.call("HGET", K_META, "lstarted"), 0))
  if budget <= 0 then return reply(fmt(window_end)) end
end

-- Why the record under `id` is not a job we can start (nil if it is one), and its original bytes.
local function inspect(id, k, values)
  if type(values) == "table" and values.err then
    local kind = redis.call("TYPE", k)["ok"]
    if kind == "string" then return "job record is not a hash but a plain value", redis.call("GET", k) end
    return "job record is a " .. kind .. ", not a hash", ""
  end
  local missing = {}
  for j, name in ipairs(REQUIRED) do
    if not values[j] then missing[#missing + 1] = name end
  end
  if values[15] and values[2] then missing[#missing + 1] = "data" end
  if #missing == 0 and not values[15] then return nil end
  if redis.call("EXISTS", k) == 0 then return "job record is missing", "" end
  local fields = redis.call("HGETALL", k)
  local map = {}
  for j = 1, #fields, 2 do map[fields[j]] = fields[j + 1] end
  if #missing == 0 then missing[1] = "data" end
  return "job hash is missing field(s): " .. table.concat(missing, ", "), map["raw"] or cjson.encode(map)
end

local function json_or_null(text)
  if text then return text end
  return "null"
end

local function string_or_null(text)
  if text then return cjson.encode(text) end
  return "null"
end

local lease_number = num(redis.call("HGET", K_META, "lseq"), 0)
local leased = {} -- lease expiry, id, ...: added to `active` with one command at the end
local lease_until = fmt(now + lease_ms)
local started_at = fmt(now)
local started = 0
while started < budget do
  local popped = redis.call("ZPOPMIN", K_WAIT, budget - started)
  if #popped == 0 then break end
  for i = 1, #popped, 2 do
    local id = popped[i]
    local k = jkey(id)
    local v = redis.pcall("HMGET", k, unpack(READ))
    local problem, raw = inspect(id, k, v)
    if problem then
      stamp(now)
      store_malformed(id, raw, problem, now)
    else
      lease_number = lease_number + 1
      local token = worker .. "#" .. fmt(lease_number)
      local attempts_started = fmt(num(v[8], 0) + 1)
      redis.call("HSET", k, "as", attempts_started, "state", "active", "tok", token, "lnum", fmt(lease_number),
        "pon", started_at)
      leased[#leased + 1] = lease_until
      leased[#leased + 1] = id
      claimed[#claimed + 1] = table.concat({"[", cjson.encode(token), ",", cjson.encode(id), ",", cjson.encode(v[1]),
        ",", v[2], ",", cjson.encode(v[3]), ",", v[4], ",", v[5], ",", attempts_started, ",", v[9] or "0", ",",
        v[10] or "0", ",", json_or_null(v[11]), ",", string_or_null(v[12]), ",", v[13] or "[]", ",", started_at, ",",
        json_or_null(v[14]), ",", v[16] or "0", "]"})
      started = started + 1
    end
  end
end
for_chunks(leased, function(part) redis.call("ZADD", K_ACTIVE, unpack(part)) end)
if started > 0 then
  redis.call("HSET", K_META, "lseq", fmt(lease_number))
  stamp(now)
end
if limit_max and started > 0 then redis.call("HINCRBY", K_META, "lstarted", started) end
local wake = nil
if started < max_jobs then
  local head = redis.call("ZRANGE", K_DELAYED, 0, 0, "WITHSCORES")
  if head[2] then wake = tonumber(head[2]) end
  local lease = redis.call("ZRANGE", K_ACTIVE, 0, 0, "WITHSCORES")
  if lease[2] and (wake == nil or tonumber(lease[2]) + 1 < wake) then wake = tonumber(lease[2]) + 1 end
  if limit_max and started == budget and budget < max_jobs then
    if wake == nil or window_end < wake then wake = window_end end
  end
elseif redis.call("ZCARD", K_WAIT) > 0 then
  signal_work() -- more work left: wake the next blocked worker
end
if wake then return reply(fmt(wake)) end
return reply("")
