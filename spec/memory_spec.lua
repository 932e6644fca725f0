-- What a command in flight costs the client: its curl handle, connection and receive
-- buffer, its stream's state, its task. Measured as malloc's bytes in use after a full
-- collection (sbx.testing.heap_in_use): live memory only, whatever pages the allocator
-- keeps. bench/concurrency.lua measures the same at thousands of commands.
local sbx = require "sbx"
local testing = require "sbx.testing"
local helper = require "helper"

-- Commands running in the sandbox: the host sees them (by a command line of their own).
local function running()
  return tonumber(helper.sh("pgrep -c -f -x 'sleep 60.0625' || true"))
end

local function live_heap()
  collectgarbage()
  collectgarbage()
  return testing.heap_in_use()
end

--- Starts n commands that wait, and steps until all of them (and `already` before them)
-- run and their start events are taken.
local function start_waiting(box, n, already, tasks)
  for _ = 1, n do
    tasks[#tasks + 1] = sbx.go(function() return box.commands:run("sleep 60.0625") end)
  end
  local t0 = sbx.now()
  while running() < already + n and sbx.now() < t0 + 30 do sbx.step(0.02) end
  assert.are.equal(already + n, running(), "commands running")
  for _ = 1, 10 do sbx.step(0.01) end -- every start event taken
end

describe("commands in flight", function()
  it("hold at most 16 KiB of the client's heap each", function()
    -- A sanitizer's allocator keeps books of its own: mallinfo says nothing there.
    if os.getenv("SBX_SANITIZED") then return end
    local FIRST, N = 10, 250
    local server = helper.sbxd { tcp = false }
    local box = sbx.create { url = server.url, api_key = server.key }
    box.commands:run("true") -- the pool of easy handles, the caches
    -- The first commands in flight take the client's two bulk receive buffers, which
    -- are not a command's own cost (docs/API.md): N more are measured after them.
    local tasks = {}
    start_waiting(box, FIRST, 0, tasks)
    local before = live_heap()
    start_waiting(box, N, FIRST, tasks)
    local per = (live_heap() - before) / N / 1024
    for _, t in ipairs(tasks) do t:cancel() end
    sbx.loop()
    box:close()
    server.stop()
    assert.is_true(per <= 16, ("%.1f KiB a command in flight"):format(per))
  end)
end)
