-- Concurrency, in two parts.
-- 1. Throughput: N concurrent run("true") for N = 1, 10, 100, 1000: wall time and runs/s.
-- 2. Memory in flight: N commands that all run at once (`sleep`), N = 1000, 3000, 5000,
--    10000 (or the sizes given as arguments). Per command in flight, divided by the
--    commands running in the sandbox (the children of its init):
--    - client raw: the peak of the client's resident size while the commands start, less
--      what it was before; garbage Lua has not collected yet counts.
--    - client live: the live heap once all of them run (or at the first one's end, when
--      not all can run at once): after a full Lua collection, the bytes malloc has handed
--      out (the Lua heap's among them), touched or not. The target is judged on it.
--      In brackets, of that moment: resident, the growth of the resident size with
--      malloc's free pages given back to the system (pages touched only, the gaps
--      between live blocks included); Lua, the live Lua heap.
--    - sbxd: the peak of sbxd's resident size less what it was before.
--    Before each size, the client collects and gives its free pages back too, so that
--    what an earlier size left does not hide the growth.
--    Targets: <= 16 KiB of client memory (live) and <= 8 KiB of sbxd memory per command.
--    A size past what the descriptor limits allow must fail cleanly: every run either
--    succeeds or raises an sbx error, and the first such error is printed.
local sbx = require "sbx"
local embedded = require "sbx.embedded"
local testing = require "sbx.testing" -- malloc's figures (built beside sbx.core)

local function status_field(pid, field)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return nil end
  local v = tonumber(f:read("a"):match(field .. ":%s*(%d+)"))
  f:close()
  return v
end

local function rss_kib(pid) return status_field(pid, "VmRSS") end

-- The children of a single-threaded process (its one task lists them all).
local function child_pids(pid)
  local f = io.open(("/proc/%d/task/%d/children"):format(pid, pid))
  if not f then return {} end
  local pids = {}
  for p in f:read("a"):gmatch("%d+") do pids[#pids + 1] = tonumber(p) end
  f:close()
  return pids
end

-- Commands running in sbxd's sandboxes: sbxd's children are the sandboxes' bwraps, each
-- bwrap's child is the sandbox's init, whose children are the commands.
local function children(pid)
  local n = 0
  for _, bwrap in ipairs(child_pids(pid)) do
    for _, init in ipairs(child_pids(bwrap)) do n = n + #child_pids(init) end
  end
  return n
end

local function nofile_limit()
  local f = assert(io.popen("ulimit -Sn; ulimit -Hn"))
  local soft, hard = f:read("l"), f:read("l")
  f:close()
  return soft, hard
end

-- Runs wait for sbxd for as long as it takes to start them: past its descriptor limit
-- the error must be sbxd's refusal, not a request timeout.
-- (pids: the sandbox holds every command at once, past sbxd's default bound)
local box <close> = sbx.create { request_timeout = 300, pids = 100000 }
local daemon_pid = embedded.daemon():pid()
local self_pid = tonumber(assert(io.open("/proc/self/stat")):read("l"):match("^(%d+)"))

print("throughput: N concurrent run(\"true\")")
for _, n in ipairs { 1, 10, 100, 1000 } do
  local t0 = sbx.now()
  local tasks = {}
  for i = 1, n do tasks[i] = sbx.go(function() return box.commands:run("true").exit_code end) end
  sbx.loop()
  local wall = sbx.now() - t0
  for i = 1, n do assert(tasks[i]:wait() == 0) end
  print(("  N=%-5d wall %.3f s  %8.0f runs/s"):format(n, wall, n / wall))
end

--- A full collection, then malloc's free pages back to the system: the resident size
-- then counts live memory only.
local function collect()
  collectgarbage()
  collectgarbage()
  testing.trim()
end

--- What the client holds now: resident KiB, heap KiB (malloc's), Lua heap KiB.
local function client_now()
  return { rss = rss_kib(self_pid), heap = testing.heap_in_use() / 1024, lua = collectgarbage("count") }
end

local soft, hard = nofile_limit()
print(("memory in flight: N concurrent `sleep` (client descriptor limit %s soft, %s hard;"
  .. " sbxd %s)"):format(soft, hard, status_field(daemon_pid, "FDSize") and "running" or "gone"))
print("  per command, KiB: client raw (peak resident), live (heap after a full collection"
  .. " [resident, Lua]), sbxd")
local sizes = {}
for i = 1, #arg do sizes[i] = math.tointeger(tonumber(arg[i])) end
if #sizes == 0 then sizes = { 1000, 3000, 5000, 10000 } end

for _, n in ipairs(sizes) do
  collect()
  local before, sbxd0 = client_now(), rss_kib(daemon_pid)
  -- Long enough that the first commands still run when the last one starts.
  local seconds = 5 + n / 500
  local ok, failed, first_err, kinds = 0, 0, nil, {}
  local t0 = sbx.now()
  for _ = 1, n do
    sbx.go(function()
      local good, err = pcall(box.commands.run, box.commands, "sleep " .. seconds)
      if good then
        ok = ok + 1
      else
        failed = failed + 1
        first_err = first_err or err
        local what = tostring(err):gsub("%d+", "N")
        kinds[what] = (kinds[what] or 0) + 1
      end
    end)
  end
  local peak = { running = 0, client = before.rss, sbxd = sbxd0 }
  local live
  local next_sample = 0
  while ok + failed < n do
    sbx.step(0.01)
    -- Sampling reads /proc (a children list of thousands of pids): not at every step,
    -- which would slow the starts it measures.
    local now = sbx.now()
    if now < next_sample then goto continue end
    next_sample = now + 0.05
    local running = children(daemon_pid)
    local client, daemon = rss_kib(self_pid), rss_kib(daemon_pid)
    if running > peak.running then peak.running, peak.at = running, sbx.now() - t0 end
    if client > peak.client then peak.client = client end
    if daemon and daemon > peak.sbxd then peak.sbxd = daemon end
    -- Once: when every command runs, or as soon as one has ended (then no more start).
    if not live and (running >= n or ok + failed > 0) then
      collect()
      live = client_now()
      live.running = running
    end
    ::continue::
  end
  local per = math.max(peak.running, 1)
  live = live or { rss = before.rss, heap = before.heap, lua = before.lua, running = 1 }
  local per_live = math.max(live.running, 1)
  print(("  N=%-5d peak %5d running at %4.1f s | client raw %5.1f, live %5.1f [%5.1f, %4.1f]"
    .. " | sbxd %4.1f | %d ok, %d failed in %.1f s"):format(n, peak.running, peak.at or 0,
    (peak.client - before.rss) / per, (live.heap - before.heap) / per_live,
    (live.rss - before.rss) / per_live, (live.lua - before.lua) / per_live,
    (peak.sbxd - sbxd0) / per, ok, failed, sbx.now() - t0))
  if first_err then print("    first error: " .. tostring(first_err)) end
  for what, count in pairs(kinds) do print(("    %5d x %s"):format(count, what)) end
end
