-- Start up to max jobs: due delays promoted and expired leases recovered first, then the waiting jobs
-- in priority order (FIFO within a priority), within the rate-limit window. Every start counts an attempt.
-- A record that is not a well-formed job hash is dead-lettered here with its bytes.
-- ARGV[2] worker id, ARGV[3] max jobs, ARGV[4] lease ms, ARGV[5] limiter max ("" none), ARGV[6] duration.
-- Returns {{token, id, HGETALL, token, id, HGETALL, ...}, wake_at ("" none), now}.
local REQUIRED = {"name", "data", "opts", "meta", "created", "prio", "attempts"}
local now = tick()
local worker, max_jobs, lease_ms = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local claimed = {}
if is_paused() or max_jobs <= 0 then return {claimed, "", fmt(now)} end
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
  if budget <= 0 then return {claimed, fmt(window_end), fmt(now)} end
end
local started = 0
while started < budget do
  local popped = redis.call("ZPOPMIN", K_WAIT, 1)
  if #popped == 0 then break end
  local id = popped[1]
  local k = jkey(id)
  local kind = redis.call("TYPE", k)["ok"]
  local problem = nil
  local raw = ""
  if kind == "string" then
    raw = redis.call("GET", k)
    problem = "job record is not a hash but a plain value"
  elseif kind == "none" then
    problem = "job record is missing"
  elseif kind ~= "hash" then
    problem = "job record is a " .. kind .. ", not a hash"
  else
    local values = redis.call("HMGET", k, unpack(REQUIRED))
    local missing = {}
    for j, field in ipairs(REQUIRED) do
      if not values[j] then missing[#missing + 1] = field end
    end
    if redis.call("HGET", k, "malformed") then missing[#missing + 1] = "data" end
    if #missing > 0 then
      local fields = redis.call("HGETALL", k)
      local map = {}
      for j = 1, #fields, 2 do map[fields[j]] = fields[j + 1] end
      raw = redis.call("HGET", k, "raw") or cjson.encode(map)
      problem = "job hash is missing field(s): " .. table.concat(missing, ", ")
    end
  end
  if problem then
    store_malformed(id, raw, problem, now)
  else
    local number = redis.call("HINCRBY", K_META, "lseq", 1)
    local token = worker .. "#" .. fmt(number)
    redis.call("HINCRBY", k, "as", 1)
    redis.call("HSET", k, "state", "active", "tok", token, "owner", worker, "lnum", number,
      "luntil", fmt(now + lease_ms), "pon", fmt(now))
    redis.call("HDEL", k, "due")
    redis.call("ZADD", K_ACTIVE, fmt(now + lease_ms), id)
    claimed[#claimed + 1] = token
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = redis.call("HGETALL", k)
    started = started + 1
  end
end
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
if wake then return {claimed, fmt(wake), fmt(now)} end
return {claimed, "", fmt(now)}
