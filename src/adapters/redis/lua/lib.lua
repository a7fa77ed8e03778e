-- Shared preamble of every queue script (concatenated in front of each script by scripts.py).
-- KEYS: 1 meta hash, 2 wait zset, 3 delayed zset, 4 active zset, 5 completed zset, 6 failed zset,
--       7 marker zset. ARGV[1]: the queue's key prefix "{prefix:queue}:" (job and idempotency keys are
--       built from it, so they share the hash tag and therefore the slot of KEYS).
local K_META, K_WAIT, K_DELAYED, K_ACTIVE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_DONE, K_FAILED, K_MARKER = KEYS[5], KEYS[6], KEYS[7]
local PFX = ARGV[1]
local PRIO_SHIFT = 1099511627776 -- 2^40: wait score = priority * 2^40 + seq (FIFO within a priority)
local MAX_STACK = 10
local STALLED_REASON = "lease expired: the worker died or stalled"
local MALFORMED_NAME = "malformed.record.v1"
local SWEEP_LIMIT = 1000

local function jkey(id) return PFX .. "job:" .. id end
local function lkey(id) return PFX .. "logs:" .. id end -- ctx.log lines, deleted with the job
local function fmt(n) return string.format("%d", n) end
local function num(v, default)
  local n = tonumber(v)
  if n == nil then return default end
  return n
end

-- The queue clock: the server's TIME in ms, never going backwards. meta "now" keeps the latest time
-- any script stored something at (`stamp`), so a script that changes nothing writes nothing.
local clock_stored = 0
local function clock()
  local t = redis.call("TIME")
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  clock_stored = num(redis.call("HGET", K_META, "now"), 0)
  if clock_stored >= now then return clock_stored end
  return now
end

local function stamp(now)
  if now > clock_stored then
    redis.call("HSET", K_META, "now", fmt(now))
    clock_stored = now
  end
end

-- HGET that reads a raw client's non-hash value under a job key as "absent" instead of failing.
local function field(k, name)
  local value = redis.pcall("HGET", k, name)
  if type(value) == "table" then return false end
  return value
end

-- Call `fn` with consecutive slices of `items` small enough to `unpack` into one command.
local function for_chunks(items, fn)
  local size = 1000
  for start = 1, #items, size do
    fn({unpack(items, start, math.min(start + size - 1, #items))})
  end
end

local function signal_work() redis.call("ZADD", K_MARKER, 0, "w") end

local function is_paused() return redis.call("HEXISTS", K_META, "paused") == 1 end

-- Fair share and tenant limits (ADR 0021). Meta "ten" is set by the first claim with a tenant
-- policy; from then on every waiting job is also in its bucket's zset (same score as in `wait`,
-- which stays the set of waiting jobs), and a ring holds the buckets with work that are not parked.
-- Bucket = the job's metadata.tenant_id, or "" for jobs without one.
local K_RING = PFX .. "tring" -- zset: bucket -> head priority * 2^40 + turn
local K_TPARK = PFX .. "tpark" -- zset: bucket parked by its window limit -> the window's end
local function twait(b) return PFX .. "tw:" .. b end -- zset: the bucket's waiting ids (wait scores)
local function tbucket(b) return PFX .. "tb:" .. b end -- hash: act, win, started, served, parked

local tenancy_cached = nil
local function tenancy_on()
  if tenancy_cached == nil then tenancy_cached = redis.call("HEXISTS", K_META, "ten") == 1 end
  return tenancy_cached
end

local function bucket_of(k)
  local raw = redis.pcall("HGET", k, "meta")
  if type(raw) == "string" then
    local ok, meta = pcall(cjson.decode, raw)
    if ok and type(meta) == "table" and type(meta[2]) == "string" then return meta[2] end
  end
  return ""
end

-- Bucket b into the ring at the back (a new turn), or its entry moved up to a better priority.
local function ring_enter(b, prio)
  local score = redis.call("ZSCORE", K_RING, b)
  if score then
    local turn = tonumber(score) % PRIO_SHIFT
    if prio * PRIO_SHIFT + turn < tonumber(score) then redis.call("ZADD", K_RING, fmt(prio * PRIO_SHIFT + turn), b) end
    return
  end
  local turn = redis.call("HINCRBY", K_META, "tturn", 1)
  redis.call("HSET", tbucket(b), "served", "0")
  redis.call("ZADD", K_RING, fmt(prio * PRIO_SHIFT + turn), b)
end

local function tenant_push_to(b, id, score)
  redis.call("ZADD", twait(b), fmt(score), id)
  if not redis.call("HGET", tbucket(b), "parked") then ring_enter(b, math.floor(score / PRIO_SHIFT)) end
end

local function tenant_push(id, k, score)
  tenant_push_to(bucket_of(k), id, score)
end

-- A job of the bucket left `active`: one fewer running, and the bucket back in the ring if it waited
-- for that (its active limit).
local function tenant_left(k)
  local b = bucket_of(k)
  local bk = tbucket(b)
  if redis.call("HINCRBY", bk, "act", -1) < 0 then redis.call("HSET", bk, "act", "0") end
  if redis.call("HGET", bk, "parked") == "a" then
    redis.call("HDEL", bk, "parked")
    local head = redis.call("ZRANGE", twait(b), 0, 0, "WITHSCORES")
    if head[2] then ring_enter(b, math.floor(tonumber(head[2]) / PRIO_SHIFT)) end
    redis.call("ZADD", K_MARKER, 0, "w")
  end
end

local function clear_lease(k)
  redis.call("HDEL", k, "tok", "lnum")
  if tenancy_on() then tenant_left(k) end
end

local function make_waiting(id, k)
  local seq = redis.call("HINCRBY", K_META, "seq", 1)
  local prio = num(redis.call("HGET", k, "prio"), 10)
  redis.call("HSET", k, "state", "waiting", "seq", seq)
  redis.call("HDEL", k, "due")
  redis.call("ZADD", K_WAIT, fmt(prio * PRIO_SHIFT + seq), id)
  if tenancy_on() then tenant_push(id, k, prio * PRIO_SHIFT + seq) end
end

local function make_delayed(id, k, due)
  local seq = redis.call("HINCRBY", K_META, "seq", 1)
  redis.call("HSET", k, "state", "delayed", "seq", seq, "due", fmt(due))
  redis.call("ZADD", K_DELAYED, fmt(due), id)
  redis.call("ZADD", K_MARKER, "LT", fmt(due), "d")
end

local function push_stack(k, entry)
  local stack = {}
  local raw = redis.call("HGET", k, "stack")
  if raw then
    local ok, value = pcall(cjson.decode, raw)
    if ok and type(value) == "table" then stack = value end
  end
  stack[#stack + 1] = entry
  while #stack > MAX_STACK do table.remove(stack, 1) end
  redis.call("HSET", k, "stack", cjson.encode(stack))
end

local SET_OF_STATE = {waiting = K_WAIT, delayed = K_DELAYED, active = K_ACTIVE, completed = K_DONE, failed = K_FAILED}

local function delete_job(id)
  local k = jkey(id)
  local state = false
  if redis.call("TYPE", k)["ok"] == "hash" then state = redis.call("HGET", k, "state") end
  local set = state and SET_OF_STATE[state]
  if set then
    redis.call("ZREM", set, id)
  else
    for _, key in ipairs({K_WAIT, K_DELAYED, K_ACTIVE, K_DONE, K_FAILED}) do redis.call("ZREM", key, id) end
  end
  redis.call("DEL", k, lkey(id))
end

-- Keep at most `count` newest and those finished less than `age` ms ago ("" = no bound).
-- `set` is the completed or failed set, so a victim's record is simply deleted with it.
local function retain(set, count, age, now)
  if age and age ~= "" then
    local cutoff = now - tonumber(age)
    while true do
      local oldest = redis.call("ZRANGE", set, 0, 0)[1]
      if not oldest then break end
      if num(field(jkey(oldest), "fon"), 0) >= cutoff then break end
      redis.call("ZREM", set, oldest)
      redis.call("DEL", jkey(oldest), lkey(oldest))
    end
  end
  if count and count ~= "" then
    local excess = redis.call("ZCARD", set) - tonumber(count)
    if excess > 0 then
      local victims = redis.call("ZPOPMIN", set, excess)
      for j = 1, #victims, 2 do redis.call("DEL", jkey(victims[j]), lkey(victims[j])) end
    end
  end
end

local function finish_into(set, id, k, now)
  local order = redis.call("HINCRBY", K_META, "fseq", 1)
  redis.call("HSET", k, "fon", fmt(now))
  redis.call("ZADD", set, order, id)
end

local function dead_letter(id, k, now)
  redis.call("HSET", k, "state", "failed")
  redis.call("HDEL", k, "due")
  finish_into(K_FAILED, id, k, now)
  retain(K_FAILED, redis.call("HGET", k, "rf_count"), redis.call("HGET", k, "rf_age"), now)
end

-- Turn whatever is stored under a job id into a dead letter of the malformed-record kind.
local function store_malformed(id, raw, reason, now)
  local k = jkey(id)
  for _, key in ipairs({K_WAIT, K_DELAYED, K_ACTIVE, K_DONE, K_FAILED}) do redis.call("ZREM", key, id) end
  redis.call("DEL", k)
  redis.call("HSET", k, "name", MALFORMED_NAME, "malformed", "1", "created", fmt(now), "state", "failed",
    "reason", reason, "stack", cjson.encode({reason}), "as", "0", "am", "0", "prio", "10", "attempts", "1",
    "raw", raw)
  finish_into(K_FAILED, id, k, now)
end

local function sort_by(items)
  table.sort(items, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  return items
end

local function promote_due(now)
  local due = redis.call("ZRANGEBYSCORE", K_DELAYED, "-inf", fmt(now), "WITHSCORES", "LIMIT", 0, SWEEP_LIMIT)
  if #due == 0 then return 0 end
  local items = {}
  for i = 1, #due, 2 do
    local id = due[i]
    local seq = 0
    if redis.call("TYPE", jkey(id))["ok"] == "hash" then seq = num(redis.call("HGET", jkey(id), "seq"), 0) end
    items[#items + 1] = {id, tonumber(due[i + 1]), seq}
  end
  for _, item in ipairs(sort_by(items)) do
    redis.call("ZREM", K_DELAYED, item[1])
    if redis.call("TYPE", jkey(item[1]))["ok"] == "hash" then
      make_waiting(item[1], jkey(item[1]))
    else
      redis.call("ZADD", K_WAIT, fmt(10 * PRIO_SHIFT), item[1]) -- garbage: the claim dead-letters it
      if tenancy_on() then tenant_push_to("", item[1], 10 * PRIO_SHIFT) end
    end
  end
  signal_work()
  return #items
end

local function recover_one(id, now)
  local k = jkey(id)
  redis.call("ZREM", K_ACTIVE, id)
  local kind = redis.call("TYPE", k)["ok"]
  if kind ~= "hash" then -- a raw client replaced the record: dead-letter what is there
    local raw = ""
    if kind == "string" then raw = redis.call("GET", k) end
    store_malformed(id, raw, "active job record is not a hash (" .. kind .. ")", now)
    return
  end
  clear_lease(k)
  redis.call("HINCRBY", k, "stalled", 1)
  push_stack(k, STALLED_REASON)
  local started = num(redis.call("HGET", k, "as"), 0)
  if started < num(redis.call("HGET", k, "attempts"), 1) then
    make_waiting(id, k)
    signal_work()
  else
    redis.call("HSET", k, "reason", STALLED_REASON .. " (after " .. fmt(started) .. " attempts)")
    dead_letter(id, k, now)
  end
end

local function recover_stalled(now)
  local expired = redis.call("ZRANGEBYSCORE", K_ACTIVE, "-inf", "(" .. fmt(now), "WITHSCORES", "LIMIT", 0, SWEEP_LIMIT)
  if #expired == 0 then return 0 end
  local items = {}
  for i = 1, #expired, 2 do
    items[#items + 1] = {expired[i], tonumber(expired[i + 1]), num(field(jkey(expired[i]), "lnum"), 0)}
  end
  for _, item in ipairs(sort_by(items)) do recover_one(item[1], now) end
  return #items
end

-- Time passes: promote due delayed jobs, then recover expired leases (the state machine's order).
local function tick()
  local now = clock()
  if promote_due(now) + recover_stalled(now) > 0 then stamp(now) end
  return now
end

-- The job if `token` is still its current attempt (fencing), else nil.
local function held(id, token)
  local k = jkey(id)
  if redis.call("TYPE", k)["ok"] ~= "hash" then return nil end
  local fields = redis.call("HMGET", k, "state", "tok")
  if fields[1] ~= "active" or fields[2] ~= token then return nil end
  return k
end

