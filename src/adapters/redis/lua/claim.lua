-- Start up to max jobs: due delays promoted and expired leases recovered first, then the waiting jobs
-- in priority order (FIFO within a priority), within the rate-limit window. Every start counts an attempt.
-- A record that is not a well-formed job hash is dead-lettered here with its bytes.
-- ARGV[2] worker id, ARGV[3] max jobs, ARGV[4] lease ms, ARGV[5] limiter max ("" none), ARGV[6] duration.
-- Returns one JSON text (cheap for the client to parse): [[[token, id, {job hash}], ...], wake_at ("" none), now].
local REQUIRED = {"name", "data", "opts", "meta", "created", "prio", "attempts"}
local now = tick()
local worker, max_jobs, lease_ms = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local claimed = {}
local function reply(wake)
  if #claimed == 0 then return "[[]," .. cjson.encode(wake) .. "," .. fmt(now) .. "]" end
  return cjson.encode({claimed, wake, now})
end
if is_paused() or max_jobs <= 0 then return reply("") end
local budget = max_jobs
local limit_max, duration = tonumber(ARGV[5]), tonumber(ARGV[6])
local window_end = nil
if limit_max then
  local window = math.floor(now / duration)
  window_end = (window + 1) * duration
  if num(redis.call("HGET", K_META, "lwin"), -1) ~= window then
    redis.call("HSET", K_META, "lwin", fmt(window), "lstarted", "0")
  end
  budget = math.min(budget, limit_max - num(redis.call("HGET", K_META, "lstarted"), 0))
  if budget <= 0 then return reply(fmt(window_end)) end
end

-- Why the record under `id` is not a job we can start (nil if it is one), and its original bytes.
local function inspect(id, k, reply)
  if type(reply) == "table" and reply.err then
    local kind = redis.call("TYPE", k)["ok"]
    if kind == "string" then return "job record is not a hash but a plain value", redis.call("GET", k) end
    return "job record is a " .. kind .. ", not a hash", ""
  end
  if #reply == 0 then return "job record is missing", "" end
  local map = {}
  for j = 1, #reply, 2 do map[reply[j]] = reply[j + 1] end
  local missing = {}
  for _, field in ipairs(REQUIRED) do
    if not map[field] then missing[#missing + 1] = field end
  end
  if map["malformed"] and map["data"] then missing[#missing + 1] = "data" end
  if #missing > 0 then
    return "job hash is missing field(s): " .. table.concat(missing, ", "), map["raw"] or cjson.encode(map)
  end
  return nil, map
end

local lease_number = num(redis.call("HGET", K_META, "lseq"), 0)
local lease_until = fmt(now + lease_ms)
local started_at = fmt(now)
local started = 0
while started < budget do
  local popped = redis.call("ZPOPMIN", K_WAIT, budget - started)
  if #popped == 0 then break end
  for i = 1, #popped, 2 do
    local id = popped[i]
    local k = jkey(id)
    local problem, detail = inspect(id, k, redis.pcall("HGETALL", k))
    if problem then
      store_malformed(id, detail, problem, now)
    else
      local map = detail
      lease_number = lease_number + 1
      local token = worker .. "#" .. fmt(lease_number)
      map["as"] = fmt(num(map["as"], 0) + 1)
      map["state"], map["tok"], map["lnum"], map["pon"] = "active", token, fmt(lease_number), started_at
      redis.call("HSET", k, "as", map["as"], "state", "active", "tok", token, "lnum", map["lnum"], "pon", started_at)
      redis.call("ZADD", K_ACTIVE, lease_until, id)
      claimed[#claimed + 1] = {token, id, map}
      started = started + 1
    end
  end
end
redis.call("HSET", K_META, "lseq", fmt(lease_number))
if limit_max then redis.call("HINCRBY", K_META, "lstarted", started) end
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
