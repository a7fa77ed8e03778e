-- Put dead letters back to waiting with fresh attempts. ARGV[2..]: job ids ("*" alone = every one).
-- Returns how many were revived.
stamp(tick())
local ids = {}
if ARGV[2] == "*" and #ARGV == 2 then
  ids = redis.call("ZRANGE", K_FAILED, 0, -1)
else
  for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local revived = 0
for _, id in ipairs(ids) do
  local k = jkey(id)
  if redis.call("ZSCORE", K_FAILED, id) and redis.call("TYPE", k)["ok"] == "hash" then
    redis.call("ZREM", K_FAILED, id)
    redis.call("HSET", k, "as", "0", "am", "0", "stalled", "0")
    redis.call("HDEL", k, "hb")
    redis.call("HDEL", k, "reason", "fon", "pon")
    make_waiting(id, k)
    revived = revived + 1
  end
end
if revived > 0 then signal_work() end
return revived
