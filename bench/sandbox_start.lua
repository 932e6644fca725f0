-- Sandboxes: what isolation costs, against the machine's own figures measured in the
-- same run.
-- 1. sbx.create() -> first run("true") result, median over 50, interleaved one by one
--    with a bare `bwrap --unshare-all --ro-bind /usr /usr ... /bin/sh -c true`: with a
--    sandbox kept warm (sbxd's default, --warm 1), and cold (--warm 0).
-- 2. 100 sandboxes created, one command each, all killed: the time, sbxd's RSS per live
--    sandbox, and what is left on the host afterwards (processes, mounts, directories),
--    besides the sandbox sbxd keeps warm.
local N = tonumber(arg[1]) or 50
local MANY = tonumber(arg[2]) or 100
local BASELINE = os.getenv("SBX_BENCH_BASELINE") or "build/bench/spawn_baseline"

local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"

local function median(samples)
  table.sort(samples)
  return samples[math.max(1, math.ceil(#samples / 2))]
end

local BARE = {
  helper.sh("command -v bwrap"), "--unshare-all", "--ro-bind", "/usr", "/usr",
  "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
  "--proc", "/proc", "--dev", "/dev", "/bin/sh", "-c", "true",
}

-- The bare bwrap, as a server driven through two FIFOs (see bench/run_latency.lua).
local function start_baseline()
  local dir = assert(core.mkdtemp("/tmp/sbx-bench-"))
  local req, resp = dir .. "/req", dir .. "/resp"
  assert(os.execute(("mkfifo '%s' '%s'"):format(req, resp)))
  assert(os.execute(("'%s' - %s < '%s' > '%s' &"):format(BASELINE, table.concat(BARE, " "), req, resp)))
  local w, r = assert(io.open(req, "w")), assert(io.open(resp, "r"))
  return {
    sample = function()
      w:write("1\n")
      w:flush()
      return assert(tonumber(r:read("l")), "baseline failed") / 1000
    end,
    close = function()
      w:close()
      r:close()
      os.remove(req); os.remove(resp); os.remove(dir)
    end,
  }
end

local function first_run(opts)
  local t0 = core.now()
  local box = sbx.create(opts)
  box.commands:run("true")
  local ms = (core.now() - t0) * 1000
  box:kill()
  return ms
end

-- What is left of the sandboxes on the host, the one sbxd keeps warm aside.
local function leftovers(server, root)
  local procs = tonumber(helper.sh("ps --no-headers --ppid " .. server.pid .. " | wc -l")) - 1
  local mounts = tonumber(helper.sh("grep -c " .. root .. " /proc/mounts || true"))
  local dirs = tonumber(helper.sh("ls " .. root .. " | grep -c '^sbx_' || true")) - 1
  return procs, mounts, dirs
end

-- Medians (ms) of the bare bwrap and of create -> first run against `server`, interleaved.
local function versus_bare(server)
  local opts = { url = server.url, api_key = server.key }
  local baseline = start_baseline()
  for _ = 1, 5 do first_run(opts); baseline.sample() end -- warm
  local base, runs = {}, {}
  for i = 1, N do
    if i % 2 == 0 then base[#base + 1] = baseline.sample() end
    runs[#runs + 1] = first_run(opts)
    if i % 2 == 1 then base[#base + 1] = baseline.sample() end
  end
  baseline.close()
  return median(base), median(runs)
end

local cold = helper.sbxd { args = { "--warm", "0" } }
local cb, cs = versus_bare(cold)
cold.stop()
local root = assert(core.mkdtemp("/tmp/sbx-bench-root-"))
local server = helper.sbxd { args = { "--root", root } }
local opts = { url = server.url, api_key = server.key }
local b, s = versus_bare(server)
print(("bare bwrap sh -c true:                   median %.2f ms (%d runs)"):format(b, N))
print(("sbx.create() -> first run result:        median %.2f ms (%d runs, interleaved)  ratio %.2f"
  .. " (target <= 1.5)"):format(s, N, s / b))
print(("the same cold (--warm 0), its own bare:  median %.2f ms against %.2f ms  ratio %.2f")
  :format(cs, cb, cs / cb))

local rss0 = helper.rss_kib(server.pid)
local t0 = core.now()
local boxes = {}
for i = 1, MANY do
  boxes[i] = sbx.create(opts)
  boxes[i].commands:run("true")
end
local made = core.now() - t0
local rss = helper.rss_kib(server.pid)
for _, box in ipairs(boxes) do box:kill() end
local total = core.now() - t0
helper.eventually(function()
  local p, m, d = leftovers(server, root)
  return p + m + d == 0
end, 10)
local p, m, d = leftovers(server, root)
print(("%d sandboxes, a command each: %.2f s to make them (%.1f ms each), %.2f s in all with their kill")
  :format(MANY, made, made * 1000 / MANY, total))
print(("sbxd RSS per live sandbox: %.1f KiB"):format((rss - rss0) / MANY))
print(("left on the host afterwards: %d processes, %d mounts, %d sandbox directories (besides the one"
  .. " kept warm)"):format(p, m, d))
server.stop()
helper.sh("rm -rf " .. root)
