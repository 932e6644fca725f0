-- run("true") latency against the machine's own baseline, measured in the same run:
-- posix_spawn of /bin/sh -c true with a stdout pipe read to EOF (bench/spawn_baseline.c),
-- alternating with sbx in blocks.
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

local BLOCK = 50

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

-- The two measurements alternate in blocks of 50, so that the machine's drift (this is
-- a shared VM) hits both alike instead of whichever ran during a slow minute.
local function interleaved()
  local sbx = require "sbx"
  local box <close> = sbx.create()
  local warm = {}
  sbx_block(box, warm, 50) -- connection, allocator
  baseline_block(warm, 10)
  local base, runs = {}, {}
  for done = 0, N - 1, BLOCK do
    local n = math.min(BLOCK, N - done)
    baseline_block(base, n)
    sbx_block(box, runs, n)
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

local base, runs = interleaved()
print(("baseline posix_spawn sh -c true: median %.3f ms  p99 %.3f ms  (%d runs)"):format(
  base.median, base.p99, N))
print(("sbx run(\"true\"):                 median %.3f ms  p99 %.3f ms  (%d runs)"):format(
  runs.median, runs.p99, N))
print(("ratio:                           median %.2f      p99 %.2f      (target <= 1.3)"):format(
  runs.median / base.median, runs.p99 / base.p99))
print(("embedded cold start, require -> first run result: %.1f ms (median of 9)"):format(cold_start()))
