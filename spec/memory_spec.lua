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
    tasks[#tasks + 1] = sbx.go(function() return box.commands:run("sleep 60.0625", { timeout = 600 }) end)
  end
  local t0 = sbx.now()
  while running() < already + n and sbx.now() < t0 + 30 do sbx.step(0.02) end
  assert.are.equal(already + n, running(), "commands running")
  for _ = 1, 10 do sbx.step(0.01) end -- every start event taken
end

describe("commands in flight", function()
  it("hold at most 16 KiB of the client's heap each, with a timeout", function()
    -- A sanitizer's allocator keeps books of its own: mallinfo says nothing there.
    if os.getenv("SBX_SANITIZED") then return end
    -- Measured in the collector's incremental mode, a host's default (lua_newstate). The
    -- lua5.4 interpreter runs the generational one, whose collections never shrink a
    -- coroutine's call list: there each task keeps a frame for every level its deepest
    -- call reached (its start event's, a few hundred bytes), or not, as the cycles fell.
    local mode <close> = setmetatable({ collectgarbage("incremental") }, { -- luacheck: ignore 211
      __close = function(m) collectgarbage(m[1]) end })
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

describe("a command's output in memory", function()
  local SIZE = 128 * 1024 * 1024
  local CMD = ("head -c %d /dev/zero"):format(SIZE)
  local ctx = helper.sandbox_per_block(setup, teardown, { tcp = false })

  it("is there once: the string is made where the output was collected", function()
    -- A sanitizer's allocator copies a block it grows and poisons what it frees late.
    if os.getenv("SBX_SANITIZED") then return end
    -- (in a process of its own: spec/output_once.lua says why)
    local out = helper.sh(("lua5.4 spec/output_once.lua %s %s %s %d"):format(helper.q(ctx.opts.url),
      helper.q(ctx.opts.api_key), helper.q(ctx.box.id), 2 * SIZE))
    local grew, whole = out:match("^(%d+) (%a+)$")
    assert.are.equal("ok", whole, out)
    grew = tonumber(grew)
    -- Collected, then copied into a string of its own, the output would be there twice.
    -- The allocator may keep a few of the block's earlier places while it grows (glibc
    -- grows a block of up to 32 MiB on its heap, by moving it), not more.
    assert.is_true(grew < 1.5 * 2 * SIZE, ("the peak grew by %.0f MiB"):format(grew / 2 ^ 20))
  end)

  it("given to callbacks does not pile up after a large string, however the collector paced itself",
    function()
      -- The collector waits for the heap to double from what it last found alive before
      -- it starts again: a string of the output's size alive in its last cycle would let
      -- as much of chunk strings, garbage once their callback returned, pile up.
      local big = ctx.box.commands:run(CMD).stdout
      assert.are.equal(SIZE, #big)
      big = nil -- luacheck: ignore 311
      collectgarbage()
      local base, peak, total = collectgarbage("count") * 1024, 0, 0
      local r = ctx.box.commands:run(CMD, { on_stdout = function(chunk)
        total = total + #chunk
        peak = math.max(peak, collectgarbage("count") * 1024)
      end })
      assert.are.equal(SIZE, total)
      assert.are.equal(SIZE, #r.stdout)
      local piled = peak - base
      assert.is_true(piled < SIZE / 8, ("%.0f MiB of the Lua heap at the peak"):format(piled / 2 ^ 20))
    end)
end)
