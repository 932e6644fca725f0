-- run("true") latency against the machine's own baseline, measured in the same run:
-- posix_spawn of /bin/sh -c true with a stdout pipe read to EOF (bench/spawn_baseline.c),
-- half of it before the sbx runs and half after.
-- Also the embedded cold start: require "sbx" -> first run result, in a fresh process.
local N = tonumber(arg[1]) or 500
local BASELINE = os.getenv("SBX_BENCH_BASELINE") or "build/bench/spawn_baseline"

local core = require "sbx.core"

local function percentile(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

local function summary(samples)
  table.sort(samples)
  return { median = percentile(samples, 0.5), p99 = percentile(samples, 0.99) }
end

-- Appends `n` baseline samples (ms) to `samples`.
local function baseline_block(samples, n)
  local f = assert(io.popen(BASELINE .. " " .. n))
  for line in f:lines() do samples[#samples + 1] = tonumber(line) / 1000 end
  assert(f:close(), "baseline failed")
end

-- Appends `n` samples (ms) of box.commands:run("true") to `samples`.
local function sbx_block(box, samples, n)
  for _ = 1, n do
    local t0 = core.now()
    box.commands:run("true")
    samples[#samples + 1] = (core.now() - t0) * 1000
  end
end

-- Rounds of: half a baseline, the sbx runs, the other half; all samples pooled. A drift
-- of the machine (a shared VM) during a round weighs on both alike, and several rounds
-- keep one noisy second from deciding the figure. Not finer interleaving: each switch
-- disturbs the scheduler's placement of the processes for tens of milliseconds, which
-- is not what a script running commands in a row sees.
local ROUNDS = 3

local function measure()
  local sbx = require "sbx"
  local box <close> = sbx.create()
  sbx_block(box, {}, 50) -- warm: connection, allocator
  local base, runs = {}, {}
  for _ = 1, ROUNDS do
    baseline_block(base, N // 2)
    sbx_block(box, runs, N)
    baseline_block(base, N - N // 2)
  end
  return summary(base), summary(runs)
end

local function cold_start()
  local script = [[
    local t0 = require("sbx.core").now()
    require("sbx").create().commands:run("true")
    io.write((require("sbx.core").now() - t0) * 1000)
  ]]
  local samples = {}
  for i = 1, 9 do
    local f = assert(io.popen(("env -u SBX_URL lua5.4 -e %q"):format(script)))
    samples[i] = tonumber(f:read("a"))
    f:close()
  end
  return summary(samples).median
end

local base, runs = measure()
print(("baseline posix_spawn sh -c true: median %.3f ms  p99 %.3f ms  (%d x %d runs)"):format(
  base.median, base.p99, ROUNDS, N))
print(("sbx run(\"true\"):                 median %.3f ms  p99 %.3f ms  (%d x %d runs)"):format(
  runs.median, runs.p99, ROUNDS, N))
print(("ratio:                           median %.2f      p99 %.2f      (target <= 1.3)"):format(
  runs.median / base.median, runs.p99 / base.p99))
print(("embedded cold start, require -> first run result: %.1f ms (median of 9)"):format(cold_start()))
