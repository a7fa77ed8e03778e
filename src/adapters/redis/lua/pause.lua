-- ARGV[2] "1" pause / "0" resume.
stamp(tick())
if ARGV[2] == "1" then
  redis.call("HSET", K_META, "paused", "1")
else
  redis.call("HDEL", K_META, "paused")
  signal_work()
end
return 1
