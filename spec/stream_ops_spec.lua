-- The core's process-stream operations against a real sbxd: resume offsets, output
-- chunks switched on and off mid-stream, and the kill request an op starts when it is
-- closed or collected before its command's end.
local core = require "sbx.core"
local cjson = require "cjson"
local helper = require "helper"

describe("a process stream's op", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  local function auth() return "Authorization: Bearer " .. ctx.server.key end
  local function url(suffix) return ctx.server.url .. ctx.box:path(suffix) end

  local function start(cmd, opts)
    opts = opts or {}
    return assert(core.request { method = "POST", url = url("/processes"),
      headers = { auth(), "Accept: text/event-stream" }, body = cjson.encode { cmd = cmd },
      sse = true, collect = opts.collect ~= false, chunks = opts.chunks or false })
  end

  --- Steps until `cond(events)` holds for the events polled so far (kept in order).
  local function step_until(op, cond, seen)
    seen = seen or {}
    local deadline = core.now() + 10
    while not cond(seen) and core.now() < deadline do
      core.step(0.02)
      for _, ev in ipairs(op:poll()) do seen[#seen + 1] = ev end
    end
    assert.is_truthy(cond(seen), "did not hang")
    return seen
  end

  local function find(seen, name)
    for _, ev in ipairs(seen) do
      if ev.event == name or ev.type == name then return ev end
    end
  end

  local function pid_of(seen) return math.tointeger(cjson.decode(find(seen, "start").data).pid) end

  --- The template of the signal request that kills a process of the box.
  local function kill_template()
    return core.request_template { method = "POST", url = url("/processes/"), url_tail = "/signal",
      headers = { auth() }, body = '{"signal":"SIGKILL"}' }
  end

  it("says the offset of the last complete output event, nil before any", function()
    local op = start("sleep 0.2; printf abc; printf EE >&2; sleep 0.2; printf defg")
    local seen = step_until(op, function(s) return find(s, "start") end)
    assert.is_nil(op:offset())
    step_until(op, function(s) return find(s, "done") end, seen)
    assert.are.equal(9, op:offset())
    assert.are.equal("abcdefg", op:output("stdout"))
    assert.are.equal("EE", op:output("stderr"))
    op:close()
  end)

  it("queues output chunks from when they are switched on, and not after they are off", function()
    local op = start("printf a; sleep 0.5; printf b; sleep 0.5; printf c")
    step_until(op, function() return op:offset() == 1 end)
    op:chunks(true)
    local seen = step_until(op, function(s) return find(s, "stdout") end)
    op:chunks(false)
    seen = step_until(op, function(s) return find(s, "done") end, seen)
    local chunks = {}
    for _, ev in ipairs(seen) do
      if ev.event == "stdout" then chunks[#chunks + 1] = ev.data end
    end
    assert.are.same({ "b" }, chunks)
    assert.are.equal("abc", op:output("stdout"))
    op:close()
  end)

  -- The kill request is the signal route of another command of the box, so that what
  -- it did shows in that command's own end event, whatever sbxd does with the closed
  -- stream's command.
  local function victim()
    local op = start("sleep 30", { collect = false })
    return op, pid_of(step_until(op, function(s) return find(s, "start") end))
  end

  local function end_of(op)
    local seen = step_until(op, function(s) return find(s, "end") end)
    op:close()
    return cjson.decode(find(seen, "end").data)
  end

  it("starts its kill request when closed before the end", function()
    local target, pid = victim()
    local op = start("sleep 30")
    step_until(op, function(s) return find(s, "start") end)
    local template = kill_template()
    op:kill_on_close(template, pid)
    template:close() -- the op keeps its own reference
    collectgarbage()
    op:close()
    assert.are.equal(137, end_of(target).exit_code)
  end)

  it("starts its kill request when collected before the end", function()
    local target, pid = victim()
    do
      local op = start("sleep 30")
      step_until(op, function(s) return find(s, "start") end)
      op:kill_on_close(kill_template(), pid)
    end
    collectgarbage()
    collectgarbage()
    assert.are.equal(137, end_of(target).exit_code)
  end)

  it("starts no kill request once cleared, nor once the end event came", function()
    local target, pid = victim()
    local cleared = start("sleep 30")
    step_until(cleared, function(s) return find(s, "start") end)
    local template = kill_template()
    cleared:kill_on_close(template, pid)
    cleared:kill_on_close(nil)
    cleared:close()
    local ended = start("true")
    step_until(ended, function(s) return find(s, "end") end)
    ended:kill_on_close(template, pid)
    ended:close()
    -- a request of this client after the two closes is answered after any they started
    local t0 = core.now()
    while core.now() < t0 + 0.5 do core.step(0.02) end
    local running = {}
    for _, p in ipairs(ctx.box.commands:list()) do running[p.pid] = true end
    assert.is_true(running[pid], "the victim still runs")
    target:close()
  end)

  it("refuses a template without a method or url, and a kill without a template and pid", function()
    assert.has_error(function() core.request_template { url = "http://x" } end)
    assert.has_error(function() core.request_template { method = "POST" } end)
    local op = start("true")
    local template = kill_template()
    assert.has_error(function() op:kill_on_close { method = "POST", url = "http://x" } end)
    assert.has_error(function() op:kill_on_close(42) end)
    assert.has_error(function() op:kill_on_close(template) end)
    assert.has_error(function() op:kill_on_close(template, "x") end)
    template:close()
    assert.has_error(function() op:kill_on_close(template, 1) end)
    op:close()
  end)
end)
