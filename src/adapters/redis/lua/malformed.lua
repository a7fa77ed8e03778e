-- Dead-letter a claimed job whose stored record does not decode. ARGV[2] id, ARGV[3] token,
-- ARGV[4] reason, ARGV[5] original bytes. Returns 1 / 0 (stale lease).
local now = tick()
stamp(now)
if not held(ARGV[2], ARGV[3]) then return 0 end
store_malformed(ARGV[2], ARGV[5], ARGV[4], now)
return 1
