-- How fast one command's output reaches Lua: `head -c SIZE /dev/zero` run with an
-- on_stdout callback that counts, and without one (the output collected into
-- result.stdout), against io.popen reading the same command in 64 KiB blocks that are
-- dropped, in the same run (the target: >= 0.5 of it, both). io.popen's read("a") is
-- shown too: like a run, it makes one string of SIZE bytes. Each run is measured first
-- after a pause, with the memory the runs before freed given back to the system a while
-- ago (on a virtual machine that may mean given back to the host, and a fresh page costs
-- far more), then again at once. Prints MB/s, the ratio to the 64 KiB reads, and the CPU
-- seconds per GB the client (this process) and sbxd spent, from /proc of each, with the
-- client's time in the kernel apart: where a run is slow, that is where it went (fresh
-- pages for the output, zeroed as they are first written). Last, the same two ways, SIZE
-- bytes of fresh memory written a byte a page and given back, by this process alone: no
-- run that returns its output (SIZE bytes it did not have) is faster than that on this
-- machine. On a virtual machine whose host takes back the memory the system frees (free
-- page reporting), a cold page costs the host's fault as well, and this floor is where it
-- shows.
-- arg[1]: the size in MiB (default 1024).
local sbx = require "sbx"
local helper = require "helper"
local testing = require "sbx.testing"

local MIB = 1024 * 1024
local SIZE = math.tointeger(tonumber(arg[1]) or 1024) * MIB
local CMD = ("head -c %d /dev/zero"):format(SIZE)

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

local function popen_read_all()
  local f = assert(io.popen(CMD))
  local all = f:read("a")
  f:close()
  assert(#all == SIZE, "io.popen read " .. #all)
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

--- A pause: the memory the runs before freed is the system's again, a while since, and
-- a mapping the client kept (docs/API.md) is gone.
local function cold()
  helper.sh("sleep 5.5")
  sbx.step(0)
end

box.commands:run("true") -- the sandbox is up, the connection made
local mb = SIZE / 1e6
local gb = SIZE / 1e9
local self = helper.self_pid()
local rows = {}

--- A row: the name, then wall seconds, the client's CPU seconds, sbxd's (for a run), and
-- the client's seconds in the kernel.
local function row(name, fn, pid)
  local _, sys0 = helper.cpu_split(self)
  local r = { name, helper.measure(sbx.now, fn, pid) }
  local _, sys1 = helper.cpu_split(self)
  r[5] = sys1 - sys0
  rows[#rows + 1] = r
end

row("io.popen, 64 KiB reads", popen_read)
row("io.popen, read(\"a\")", popen_read_all)
cold()
row("run with on_stdout", with_callback, server.pid)
row("  again", with_callback, server.pid)
cold()
row("run, output collected", collected, server.pid)
row("  again", collected, server.pid)
local function fresh() testing.write_fresh(SIZE) end
cold()
row("fresh memory, written", fresh)
row("  again", fresh)
print(("%d MiB of /dev/zero through one command; each run first after a pause, then again"
  .. " at once"):format(SIZE // MIB))
local base = mb / rows[1][2]
for _, r in ipairs(rows) do
  local rate = mb / r[2]
  local line = ("%-24s %8.1f MB/s  x%.2f  client %.2f CPU s/GB (kernel %.2f)"):format(
    r[1], rate, rate / base, r[3] / gb, r[5] / gb)
  if r[4] then line = line .. ("  sbxd %.2f CPU s/GB"):format(r[4] / gb) end
  print(line)
end
print("target: each run >= 0.5 x io.popen's 64 KiB reads; a run is no faster than the fresh"
  .. " memory its output takes, written")
box:close()
server.stop()
