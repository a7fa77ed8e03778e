-- Start up to max jobs: due delays promoted and expired leases recovered first, then the waiting jobs
-- in priority order (FIFO within a priority), within the rate-limit window. Every start counts an attempt.
-- A record that is not a well-formed job hash is dead-lettered here with its bytes.
-- ARGV[2] worker id, ARGV[3] max jobs, ARGV[4] lease ms, ARGV[5] limiter max ("" none), ARGV[6] duration.
-- ARGV[7..11] only with a tenant policy (ADR 0021): "1", max active, max starts, window ms ("" none),
-- weights as a JSON object. Then tenants are served in turn (see lib.lua's ring) within their limits.
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

-- Start the job under `id` (already out of `wait`); false if its record was malformed (dead-lettered).
local function start_one(id)
  local k = jkey(id)
  local v = redis.pcall("HMGET", k, unpack(READ))
  local problem, raw = inspect(id, k, v)
  if problem then
    stamp(now)
    store_malformed(id, raw, problem, now)
    return false
  end
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
  return true
end

-- The first claim with a tenant policy indexes what waits and counts what runs, once.
local function enable_tenancy()
  redis.call("HSET", K_META, "ten", "1")
  tenancy_cached = true
  stamp(now)
  local total = redis.call("ZCARD", K_WAIT)
  for start = 0, total - 1, 1000 do
    local part = redis.call("ZRANGE", K_WAIT, start, start + 999, "WITHSCORES")
    for i = 1, #part, 2 do tenant_push(part[i], jkey(part[i]), tonumber(part[i + 1])) end
  end
  local running = redis.call("ZCARD", K_ACTIVE)
  for start = 0, running - 1, 1000 do
    for _, id in ipairs(redis.call("ZRANGE", K_ACTIVE, start, start + 999)) do
      redis.call("HINCRBY", tbucket(bucket_of(jkey(id))), "act", 1)
    end
  end
end

-- Park bucket b if it is at a limit (true then); the no-tenant bucket never is.
local function limited(b, bk, max_active, max_starts, window_ms)
  if b == "" then return false end
  local f = redis.call("HMGET", bk, "act", "win", "started")
  if max_active and num(f[1], 0) >= max_active then
    redis.call("ZREM", K_RING, b)
    redis.call("HSET", bk, "parked", "a")
    stamp(now)
    return true
  end
  if max_starts then
    local window = math.floor(now / window_ms)
    local count = num(f[3], 0)
    if num(f[2], -1) ~= window then
      count = 0
      redis.call("HSET", bk, "win", fmt(window), "started", "0")
      stamp(now)
    end
    if count >= max_starts then
      redis.call("ZREM", K_RING, b)
      redis.call("HSET", bk, "parked", "w")
      redis.call("ZADD", K_TPARK, fmt((window + 1) * window_ms), b)
      stamp(now)
      return true
    end
  end
  return false
end

-- Tenants in turn: the ring's head bucket (best head priority, then oldest turn) starts its head job
-- and goes to the back of the ring after `weight` jobs in a row.
local function claim_fair()
  local max_active, max_starts, window_ms = tonumber(ARGV[8] or ""), tonumber(ARGV[9] or ""), tonumber(ARGV[10] or "")
  local weights = {}
  if ARGV[11] and ARGV[11] ~= "" then weights = cjson.decode(ARGV[11]) end
  local due = redis.call("ZRANGEBYSCORE", K_TPARK, "-inf", fmt(now))
  for _, b in ipairs(due) do
    redis.call("ZREM", K_TPARK, b)
    local bk = tbucket(b)
    if redis.call("HGET", bk, "parked") == "w" then
      redis.call("HDEL", bk, "parked")
      local head = redis.call("ZRANGE", twait(b), 0, 0, "WITHSCORES")
      if head[2] then ring_enter(b, math.floor(tonumber(head[2]) / PRIO_SHIFT)) end
    end
  end
  if #due > 0 then stamp(now) end
  while started < budget do
    local entry = redis.call("ZRANGE", K_RING, 0, 0, "WITHSCORES")
    if not entry[1] then break end
    local b, score = entry[1], tonumber(entry[2])
    local prio, turn = math.floor(score / PRIO_SHIFT), score % PRIO_SHIFT
    local bw = twait(b)
    local head = redis.call("ZRANGE", bw, 0, 0, "WITHSCORES")
    stamp(now)
    if not head[1] then
      redis.call("ZREM", K_RING, b)
    else
      local id, job_score = head[1], tonumber(head[2])
      local live = redis.call("ZSCORE", K_WAIT, id)
      if not live or tonumber(live) ~= job_score then
        redis.call("ZREM", bw, id) -- gone from `wait` (removed, or waiting again under a new score)
      elseif math.floor(job_score / PRIO_SHIFT) ~= prio then
        redis.call("ZADD", K_RING, fmt(math.floor(job_score / PRIO_SHIFT) * PRIO_SHIFT + turn), b)
      else
        local bk = tbucket(b)
        if not limited(b, bk, max_active, max_starts, window_ms) then
          redis.call("ZREM", bw, id)
          redis.call("ZREM", K_WAIT, id)
          if start_one(id) then
            redis.call("HINCRBY", bk, "act", 1)
            redis.call("HINCRBY", bk, "started", 1)
            local served = redis.call("HINCRBY", bk, "served", 1)
            local nxt = redis.call("ZRANGE", bw, 0, 0, "WITHSCORES")
            if not nxt[1] then
              redis.call("ZREM", K_RING, b)
            elseif served >= (tonumber(weights[b]) or 1) then
              redis.call("ZREM", K_RING, b) -- its turn is over: to the back of the ring
              ring_enter(b, math.floor(tonumber(nxt[2]) / PRIO_SHIFT))
            else
              redis.call("ZADD", K_RING, fmt(math.floor(tonumber(nxt[2]) / PRIO_SHIFT) * PRIO_SHIFT + turn), b)
            end
          end
        end
      end
    end
  end
end

if ARGV[7] == "1" and not tenancy_on() then enable_tenancy() end
if tenancy_on() then
  claim_fair()
else
  while started < budget do
    local popped = redis.call("ZPOPMIN", K_WAIT, budget - started)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do start_one(popped[i]) end
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
  if tenancy_on() then
    local parked = redis.call("ZRANGE", K_TPARK, 0, 0, "WITHSCORES")
    if parked[2] and (wake == nil or tonumber(parked[2]) < wake) then wake = tonumber(parked[2]) end
  end
elseif (tenancy_on() and redis.call("ZCARD", K_RING) > 0) or (not tenancy_on() and redis.call("ZCARD", K_WAIT) > 0) then
  signal_work() -- more work left: wake the next blocked worker
end
if wake then return reply(fmt(wake)) end
return reply("")
