-- Inspection reads (ADR 0026), after time has been applied (so a due delayed job lists as waiting).
-- ARGV[2] "logs" id: the job's log lines oldest first, or false if the job does not exist.
-- ARGV[2] "list" state offset limit: id, HGETALL pairs of a page of one state's jobs: waiting in
-- claim order, delayed by due time, active most recently started first, completed and failed newest first.
tick()
local what = ARGV[2]
if what == "logs" then
  if redis.call("TYPE", jkey(ARGV[3]))["ok"] ~= "hash" then return false end
  return redis.call("LRANGE", lkey(ARGV[3]), 0, -1)
end
local state, offset, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local page = {}
if limit <= 0 then return page end
local stop = offset + limit - 1
local ids
if state == "waiting" then ids = redis.call("ZRANGE", K_WAIT, offset, stop)
elseif state == "delayed" then ids = redis.call("ZRANGE", K_DELAYED, offset, stop)
elseif state == "completed" then ids = redis.call("ZREVRANGE", K_DONE, offset, stop)
elseif state == "failed" then ids = redis.call("ZREVRANGE", K_FAILED, offset, stop)
else
  local started = {}
  for _, id in ipairs(redis.call("ZRANGE", K_ACTIVE, 0, -1)) do
    started[#started + 1] = {id, num(field(jkey(id), "lnum"), 0)}
  end
  table.sort(started, function(a, b) return a[2] > b[2] end)
  ids = {}
  for i = offset + 1, math.min(offset + limit, #started) do ids[#ids + 1] = started[i][1] end
end
for _, id in ipairs(ids) do
  if redis.call("TYPE", jkey(id))["ok"] == "hash" then
    page[#page + 1] = id
    page[#page + 1] = redis.call("HGETALL", jkey(id))
  end
end
return page
