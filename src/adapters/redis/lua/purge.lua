-- Delete dead letters that failed more than ARGV[2] ms ago (finish order is time order).
local now = tick()
stamp(now)
local cutoff = now - tonumber(ARGV[2])
local removed = 0
while true do
  local batch = redis.call("ZRANGE", K_FAILED, 0, 99)
  if #batch == 0 then break end
  local stop = false
  for _, id in ipairs(batch) do
    if num(field(jkey(id), "fon"), 0) >= cutoff then stop = true break end
    delete_job(id)
    removed = removed + 1
  end
  if stop then break end
end
return removed
