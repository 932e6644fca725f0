-- How fast one command's output reaches Lua: `head -c SIZE /dev/zero` run with an
-- on_stdout callback that counts, and without one (the output collected into
-- result.stdout), against io.popen reading the same command in 64 KiB blocks, in the
-- same run. Prints MB/s, the ratios to io.popen (target >= 0.5 each), and the CPU
-- seconds per GB the client (this process) and sbxd spent, from /proc of each.
-- arg[1]: the size in MiB (default 1024).
local sbx = require "sbx"
local helper = require "helper"

local MIB = 1024 * 1024
local SIZE = math.tointeger(tonumber(arg[1]) or 1024) * MIB
local CMD = ("head -c %d /dev/zero"):format(SIZE)
local TICKS = tonumber(helper.sh("getconf CLK_TCK")) or 100

--- CPU seconds a process has used (user + system), from /proc/PID/stat.
local function cpu_seconds(pid)
  local f = assert(io.open("/proc/" .. pid .. "/stat"))
  local stat = f:read("a")
  f:close()
  -- fields after the command's name (which may hold spaces) in parentheses
  local rest = stat:match("%) (.*)$")
  local fields = {}
  for v in rest:gmatch("%S+") do fields[#fields + 1] = v end
  return (tonumber(fields[12]) + tonumber(fields[13])) / TICKS
end

local function self_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("a"):match("^(%d+)")
  f:close()
  return pid
end

local SELF = self_pid()

--- Runs fn() and returns its wall seconds and the CPU seconds of this process and sbxd.
local function measure(fn, sbxd_pid)
  collectgarbage()
  local c0, s0, t0 = cpu_seconds(SELF), sbxd_pid and cpu_seconds(sbxd_pid), sbx.now()
  fn()
  local wall = sbx.now() - t0
  return wall, cpu_seconds(SELF) - c0, sbxd_pid and cpu_seconds(sbxd_pid) - s0
end

local function popen_read()
  local f = assert(io.popen(CMD))
  local total = 0
  while true do
    local block = f:read(64 * 1024)
    if not block then break end
    total = total + #block
  end
  f:close()
  assert(total == SIZE, "io.popen read " .. total)
end

local server = helper.sbxd { tcp = false }
local box <close> = sbx.create { url = server.url, api_key = server.key }

local function with_callback()
  local total = 0
  local r = box.commands:run(CMD, { on_stdout = function(chunk) total = total + #chunk end })
  assert(total == SIZE and r.exit_code == 0, "the callback counted " .. total)
end

local function collected()
  local r = box.commands:run(CMD)
  assert(#r.stdout == SIZE and r.exit_code == 0, "collected " .. #r.stdout)
end

--- The client keeps the memory of a run's collected output for the next run for a few
-- seconds (docs/API.md): a wait past that, and a step, make the next run a cold one.
local function cold()
  helper.sh("sleep 5.5")
  sbx.step(0)
end

box.commands:run("true") -- the sandbox is up, the connection made
local mb = SIZE / 1e6
local gb = SIZE / 1e9
local rows = { { "io.popen, 64 KiB reads", measure(popen_read) } }
cold()
rows[#rows + 1] = { "run with on_stdout", measure(with_callback, server.pid) }
rows[#rows + 1] = { "  again", measure(with_callback, server.pid) }
cold()
rows[#rows + 1] = { "run, output collected", measure(collected, server.pid) }
rows[#rows + 1] = { "  again", measure(collected, server.pid) }
local base = mb / rows[1][2]
print(("%d MiB of /dev/zero through one command; each run first cold, then again with the"
  .. " memory of the last run's output reused"):format(SIZE // MIB))
for _, r in ipairs(rows) do
  local rate = mb / r[2]
  local line = ("%-24s %8.1f MB/s  x%.2f of io.popen  client %.2f CPU s/GB"):format(
    r[1], rate, rate / base, r[3] / gb)
  if r[4] then line = line .. ("  sbxd %.2f CPU s/GB"):format(r[4] / gb) end
  print(line)
end
print("target: each run >= 0.5 x io.popen")
box:close()
server.stop()
