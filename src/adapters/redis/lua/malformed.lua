-- Dead-letter a job whose stored record does not decode. ARGV[2] id, ARGV[3] token, ARGV[4] reason,
-- ARGV[5] original bytes. With a token (a claim), only while that lease holds; with "" (a reader
-- such as get_job), unless the job is leased by a worker. Returns 1 / 0 (stale lease, leased, gone).
local now = tick()
stamp(now)
local id = ARGV[2]
if ARGV[3] == "" then
  if redis.call("EXISTS", jkey(id)) == 0 or redis.call("ZSCORE", K_ACTIVE, id) then return 0 end
elseif not held(id, ARGV[3]) then
  return 0
end
store_malformed(id, ARGV[5], ARGV[4], now)
return 1
