-- How fast a whole kept log replays: a background command writes SIZE bytes of
-- /dev/urandom nobody reads (sbxd started with a --max-log that holds them all), and once
-- it has exited, commands:connect(pid):wait() gets every byte from offset 0. Prints MB/s
-- of the replay, against io.popen reading the same bytes from a file in 64 KiB blocks in
-- the same run, and the CPU seconds per GB of the client and of sbxd.
-- arg[1]: the size in MiB (default 256).
local sbx = require "sbx"
local helper = require "helper"
local core = require "sbx.core"

local MIB = 1024 * 1024
local SIZE = math.tointeger(tonumber(arg[1]) or 256) * MIB

local server = helper.sbxd { tcp = false, args = { "--max-log", tostring(SIZE + MIB),
  "--max-logs", tostring(2 * SIZE + MIB) } }
local box <close> = sbx.create { url = server.url, api_key = server.key }

-- the same bytes in a file on the host, for the baseline
local dir = assert(core.mkdtemp("/tmp/sbx-replay-"))
local file = dir .. "/bytes"
helper.sh(("head -c %d /dev/urandom > %s"):format(SIZE, file))

local function popen_read()
  local f = assert(io.popen("cat " .. file))
  local total = 0
  while true do
    local block = f:read(64 * 1024)
    if not block then break end
    total = total + #block
  end
  f:close()
  assert(total == SIZE, "io.popen read " .. total)
end

-- a background command with no reader: sbxd reads its pipe into the log, dropping nothing
-- (the log holds it all), and keeps the log after it exits
local h = box.commands:run(("head -c %d /dev/urandom; echo done >&2"):format(SIZE), { background = true })
local pid = h.pid
h:disconnect()
local t0 = sbx.now()
while sbx.now() < t0 + 120 do
  local running = false
  for _, p in ipairs(box.commands:list()) do
    if p.pid == pid then running = true end
  end
  if not running then break end
  sbx.step(0.1)
end

local function replay()
  local r = box.commands:connect(pid):wait()
  assert(#r.stdout == SIZE and r.stderr == "done\n", ("replayed %d bytes"):format(#r.stdout))
end

local rows = {
  { "io.popen of a file, 64 KiB", helper.measure(sbx.now, popen_read) },
  { "connect(pid):wait()", helper.measure(sbx.now, replay, server.pid) },
}
local mb, gb = SIZE / 1e6, SIZE / 1e9
local base = mb / rows[1][2]
print(("replay of a %d MiB log of an exited command"):format(SIZE // MIB))
for _, r in ipairs(rows) do
  local rate = mb / r[2]
  local line = ("%-28s %8.1f MB/s  x%.2f of io.popen  client %.2f CPU s/GB"):format(
    r[1], rate, rate / base, r[3] / gb)
  if r[4] then line = line .. ("  sbxd %.2f CPU s/GB"):format(r[4] / gb) end
  print(line)
end
os.remove(file)
os.remove(dir)
box:close()
server.stop()
