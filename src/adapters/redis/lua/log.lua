-- Store one ctx.log line of the running attempt (ADR 0026). ARGV[2] id, ARGV[3] token, ARGV[4] text,
-- ARGV[5] how many lines the queue keeps per job (0: none). Lines are "<at ms> <text>" in a list per
-- job (lkey), deleted with the job. Returns 1 / 0 (stale lease: nothing stored).
local now = tick()
stamp(now)
if not held(ARGV[2], ARGV[3]) then return 0 end
local keep = tonumber(ARGV[5])
if keep > 0 then
  local k = lkey(ARGV[2])
  redis.call("RPUSH", k, fmt(now) .. " " .. ARGV[4])
  redis.call("LTRIM", k, -keep, -1)
end
return 1
