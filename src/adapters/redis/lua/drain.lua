-- Delete up to ARGV[2] waiting and delayed jobs (waiting first). Returns how many; the caller
-- repeats until fewer come back. Active, completed and failed jobs stay; idempotency keys stay.
stamp(tick())
local limit = tonumber(ARGV[2])
local removed = 0
for _, set in ipairs({K_WAIT, K_DELAYED}) do
  if removed >= limit then break end
  for _, id in ipairs(redis.call("ZRANGE", set, 0, limit - removed - 1)) do
    delete_job(id)
    removed = removed + 1
  end
end
return removed
