-- How long one sbx.step(0) takes while 100 commands stream 1 MB each: the distribution of
-- step(0) durations (median, p99, max), and how much of the output one frame delivers.
-- Targets: p99 <= 1 ms, max <= 5 ms.
--
-- The commands copy /dev/zero: sbx moves their bytes exactly as it moves any others (the
-- same base64, the same parsing), and they cost the machine next to no CPU of their own.
-- Commands that burn CPU compete with the host for the 2 cores, and the OS then takes the
-- CPU from a step for milliseconds whatever the step does: the second pass shows that
-- with /dev/urandom, whose bytes the kernel computes.
local sbx = require "sbx"

local N, SIZE = tonumber(arg[1]) or 100, 1000000

local function pct(t, p)
  table.sort(t)
  return t[math.max(1, math.ceil(#t * p))]
end

local function measure(source)
  local box <close> = sbx.create()
  local per_frame, total = 0, 0
  for _ = 1, N do
    sbx.go(function()
      box.commands:run("head -c " .. SIZE .. " " .. source, {
        on_stdout = function(chunk)
          per_frame = per_frame + #chunk
          total = total + #chunk
        end,
      })
    end)
  end
  local durations, cpu, shares = {}, {}, {}
  local live = N
  while live > 0 do
    per_frame = 0
    local t0, c0 = sbx.now(), os.clock()
    live = sbx.step(0)
    durations[#durations + 1] = (sbx.now() - t0) * 1000
    cpu[#cpu + 1] = (os.clock() - c0) * 1000
    if per_frame > 0 then shares[#shares + 1] = per_frame / (N * SIZE) end
    -- The rest of a 1 ms frame: the host's sleep (here in sbx, not measured).
    local left = t0 + 0.001 - sbx.now()
    if live > 0 and left > 0 then sbx.step(left) end
  end
  assert(total == N * SIZE, "delivered " .. total)
  return durations, cpu, shares
end

-- arg[2] == "realtime": the pass of a real-time host (below) only, one line.
if arg[2] == "realtime" then
  local d, c = measure("/dev/zero")
  print(("wall p99 %.3f ms  max %.3f ms;  CPU p99 %.3f ms  max %.3f ms"):format(pct(d, 0.99), pct(d, 1),
    pct(c, 0.99), pct(c, 1)))
  return
end

local durations, cpu, shares = measure("/dev/zero")
-- A step whose wall time exceeds its CPU time by more than 0.5 ms was preempted: the OS
-- ran something else (a command, sbxd, a kernel thread) in the middle of it. (Before
-- pct sorts the two lists apart.)
local preempted, longest_whole = 0, 0
for i, d in ipairs(durations) do
  if d - cpu[i] > 0.5 then preempted = preempted + 1 else longest_whole = math.max(longest_whole, d) end
end
print(("step(0) over %d frames with %d x 1 MB streaming: median %.3f ms  p99 %.3f ms  max %.3f ms"):format(
  #durations, N, pct(durations, 0.5), pct(durations, 0.99), pct(durations, 1)))
-- Wall time includes the time the OS gave the CPU to the commands and sbxd instead (2
-- cores); CPU time is the work the step itself did.
print(("step(0) CPU time:                                median %.3f ms  p99 %.3f ms  max %.3f ms"):format(
  pct(cpu, 0.5), pct(cpu, 0.99), pct(cpu, 1)))
print(("steps the OS preempted for over 0.5 ms: %d of %d; the longest step it did not: %.3f ms"):format(
  preempted, #durations, longest_whole))
print(("output delivered per busy frame: median %.3f%%  max %.3f%% of the total"):format(
  pct(shares, 0.5) * 100, pct(shares, 1) * 100))
print("targets: p99 <= 1 ms, max <= 5 ms")
durations, cpu = measure("/dev/urandom")
print(("the same with /dev/urandom (commands that use CPU): wall p99 %.3f ms  max %.3f ms;"
  .. "  CPU p99 %.3f ms  max %.3f ms"):format(pct(durations, 0.99), pct(durations, 1), pct(cpu, 0.99),
  pct(cpu, 1)))
-- The /dev/zero pass again from a host whose frame thread runs real-time (SCHED_FIFO, as a
-- game's or an audio engine's may): the OS takes the CPU from no step, and what is left
-- is the step's own work. The embedded sbxd and the commands run as ordinary processes.
-- Needs the right to set the policy (root); skipped without it.
local rt = io.popen(("chrt -f 10 %s %s %d realtime 2>/dev/null"):format(arg[-1] or "lua5.4", arg[0], N))
local line = rt:read("l")
rt:close()
print("the same from a real-time (SCHED_FIFO) host: " .. (line or "skipped (chrt -f refused)"))
