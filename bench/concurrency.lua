-- N concurrent run("true") for N = 1, 10, 100, 1000: wall time, runs/s, and the client's
-- memory per run in flight (RSS while all N are in flight, less RSS before).
-- Target: 1000 in flight with <= 64 KiB of client memory each.
local sbx = require "sbx"

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local kib = tonumber(f:read("a"):match("VmRSS:%s*(%d+)"))
  f:close()
  return kib
end

local box <close> = sbx.create()
for _, n in ipairs { 1, 10, 100, 1000 } do
  collectgarbage()
  local before = rss_kib()
  local t0 = sbx.now()
  local tasks = {}
  for i = 1, n do tasks[i] = sbx.go(function() return box.commands:run("true").exit_code end) end
  sbx.step(0) -- every request is now on its way
  local during = rss_kib()
  sbx.loop()
  local wall = sbx.now() - t0
  for i = 1, n do assert(tasks[i]:wait() == 0) end
  print(("N=%-5d wall %.3f s  %8.0f runs/s  client memory per in-flight run %6.1f KiB"):format(
    n, wall, n / wall, math.max(0, during - before) / n))
end
