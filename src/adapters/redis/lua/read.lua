-- Reads, after time has been applied (so a due delayed job reads as waiting).
-- ARGV[2] "job" id | "stats" | "dead" offset limit (limit -1 = all).
tick()
local what = ARGV[2]
if what == "job" then
  local k = jkey(ARGV[3])
  if redis.call("TYPE", k)["ok"] ~= "hash" then return false end
  return redis.call("HGETALL", k)
elseif what == "stats" then
  return {redis.call("ZCARD", K_WAIT), redis.call("ZCARD", K_DELAYED), redis.call("ZCARD", K_ACTIVE),
    redis.call("ZCARD", K_DONE), redis.call("ZCARD", K_FAILED), redis.call("HEXISTS", K_META, "paused")}
end
local offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local stop = -1
if limit >= 0 then stop = offset + limit - 1 end
local letters = {}
if limit == 0 then return letters end
for _, id in ipairs(redis.call("ZREVRANGE", K_FAILED, offset, stop)) do
  if redis.call("TYPE", jkey(id))["ok"] == "hash" then
    letters[#letters + 1] = id
    letters[#letters + 1] = redis.call("HGETALL", jkey(id))
  end
end
return letters
