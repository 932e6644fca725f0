-- run("true") latency against the machine's own baseline, measured in the same run:
-- posix_spawn of /bin/sh -c true with a stdout pipe read to EOF (bench/spawn_baseline.c).
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

local function baseline()
  local samples = {}
  local f = assert(io.popen(BASELINE .. " " .. N))
  for line in f:lines() do samples[#samples + 1] = tonumber(line) / 1000 end
  assert(f:close(), "baseline failed")
  return summary(samples)
end

local function sbx_runs()
  local sbx = require "sbx"
  local box <close> = sbx.create()
  for _ = 1, 50 do box.commands:run("true") end -- warm: connection, allocator
  local samples = {}
  for i = 1, N do
    local t0 = core.now()
    box.commands:run("true")
    samples[i] = (core.now() - t0) * 1000
  end
  return summary(samples)
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

-- Interleave the two measurements so that machine noise hits both alike.
local base1, runs, base2 = baseline(), sbx_runs(), baseline()
local base = { median = math.min(base1.median, base2.median), p99 = math.min(base1.p99, base2.p99) }
print(("baseline posix_spawn sh -c true: median %.3f ms  p99 %.3f ms  (%d runs)"):format(
  base.median, base.p99, N))
print(("sbx run(\"true\"):                 median %.3f ms  p99 %.3f ms  (%d runs)"):format(
  runs.median, runs.p99, N))
print(("ratio:                           median %.2f      p99 %.2f      (target <= 1.3)"):format(
  runs.median / base.median, runs.p99 / base.p99))
print(("embedded cold start, require -> first run result: %.1f ms (median of 9)"):format(cold_start()))
