-- Interactive sessions: the round trip of one line through `cat` in a session
-- (stdin:write, then the line back on stdout), against a baseline measured in the same
-- run: websocketd running cat on loopback, driven by a minimal lws client on a libuv
-- loop (bench/ws_baseline.c), the kind of loop sbx runs on. Samples of both alternate in
-- blocks, so both see the same machine. Prints median and p99 of each and their ratio
-- (sbx / baseline; the target is <= 0.7).
-- Then spawn("true") -> wait() against run("true"), medians.
--
-- sbx talks to its embedded sbxd (a unix socket) unless SBX_URL names another.
local N = tonumber(arg[1]) or 2000
local BLOCK = 100
local BASELINE = os.getenv("SBX_BENCH_WS_BASELINE") or "build/bench/ws_baseline"
local LINE = "a line of about forty bytes, through cat\n"

local sbx = require "sbx"
local core = require "sbx.core"
local socket = require "socket"

local function percentile(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

local function summary(samples)
  table.sort(samples)
  return { median = percentile(samples, 0.5), p99 = percentile(samples, 0.99) }
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

--- websocketd running cat, and the baseline client as a server driven through two FIFOs:
-- each request line "N" makes it do N round trips and answer their durations (us).
local function start_baseline()
  local port = free_port()
  local dir = assert(core.mkdtemp("/tmp/sbx-bench-"))
  local pidfile = dir .. "/websocketd.pid"
  assert(os.execute(("websocketd --port=%d --address=127.0.0.1 --binary=true cat >/dev/null 2>&1 & "
    .. "echo $! > '%s'"):format(port, pidfile)))
  local f = assert(io.open(pidfile))
  local wsd_pid = assert(tonumber(f:read("l")))
  f:close()
  for _ = 1, 100 do -- until it listens
    local c = socket.connect("127.0.0.1", port)
    if c then c:close() break end
    socket.sleep(0.02)
  end
  local req, resp = dir .. "/req", dir .. "/resp"
  assert(os.execute(("mkfifo '%s' '%s'"):format(req, resp)))
  assert(os.execute(("'%s' %d < '%s' > '%s' &"):format(BASELINE, port, req, resp)))
  local w = assert(io.open(req, "w"))
  local r = assert(io.open(resp, "r"))
  return {
    samples = function(n, into)
      w:write(n, "\n")
      w:flush()
      for _ = 1, n do into[#into + 1] = assert(tonumber(r:read("l")), "baseline failed") end
    end,
    close = function()
      w:close() -- EOF: the client exits
      r:close()
      os.execute("kill " .. wsd_pid)
      os.remove(req); os.remove(resp); os.remove(pidfile); os.remove(dir)
    end,
  }
end

-- Bytes the session's on_stdout got (s.stdout would join all the output at every look).
local got = 0

--- n round trips of LINE through the session's cat, in microseconds.
local function sbx_samples(s, n, into)
  for _ = 1, n do
    local want = got + #LINE
    local t0 = core.now()
    s.stdin:write(LINE)
    while got < want do sbx.step() end
    into[#into + 1] = (core.now() - t0) * 1e6
  end
end

local function line_rtt(box)
  local baseline = start_baseline()
  local s <close> = box.commands:spawn("cat", { on_stdout = function(chunk) got = got + #chunk end })
  local warm = {}
  sbx_samples(s, 200, warm)
  baseline.samples(200, warm)
  local base, mine = {}, {}
  for _ = 1, N // BLOCK do
    baseline.samples(BLOCK, base)
    sbx_samples(s, BLOCK, mine)
  end
  baseline.close()
  return summary(mine), summary(base)
end

local function spawn_vs_run(box, n)
  local spawned, ran = {}, {}
  for _ = 1, 20 do box.commands:run("true") end
  for _ = 1, n do
    local t0 = core.now()
    local s <close> = box.commands:spawn("true")
    s:wait()
    spawned[#spawned + 1] = (core.now() - t0) * 1e3
    t0 = core.now()
    box.commands:run("true")
    ran[#ran + 1] = (core.now() - t0) * 1e3
  end
  return summary(spawned), summary(ran)
end

local box <close> = sbx.create()
local mine, base = line_rtt(box)
print(("line round trip through cat, %d samples each (us):"):format(N))
print(("  sbx session                    median %7.1f   p99 %7.1f"):format(mine.median, mine.p99))
print(("  websocketd + lws client        median %7.1f   p99 %7.1f"):format(base.median, base.p99))
print(("  ratio sbx / baseline           median %7.2f   p99 %7.2f   (target <= 0.7)"):format(
  mine.median / base.median, mine.p99 / base.p99))
local spawned, ran = spawn_vs_run(box, 300)
print("spawn(\"true\") -> wait() against run(\"true\"), 300 each (ms):")
print(("  spawn + wait                   median %7.3f   p99 %7.3f"):format(spawned.median, spawned.p99))
print(("  run                            median %7.3f   p99 %7.3f"):format(ran.median, ran.p99))
print(("  ratio                          median %7.2f"):format(spawned.median / ran.median))
