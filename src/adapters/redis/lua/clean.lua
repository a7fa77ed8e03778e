-- Remove up to ARGV[4] jobs of state ARGV[3] (completed|failed) finished more than ARGV[2] ms ago.
local now = tick()
stamp(now)
local set = K_DONE
if ARGV[3] == "failed" then set = K_FAILED end
local cutoff = now - tonumber(ARGV[2])
local limit = tonumber(ARGV[4])
local removed = 0
if limit <= 0 then return 0 end
for _, id in ipairs(redis.call("ZRANGE", set, 0, limit - 1)) do
  if num(field(jkey(id), "fon"), 0) >= cutoff then break end
  delete_job(id)
  removed = removed + 1
end
return removed
