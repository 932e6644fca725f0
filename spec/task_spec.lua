-- Tasks, step/loop, cancellation and streaming callbacks, against a real sbxd.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"
local testing = require "sbx.testing"

describe("tasks", function()
  -- A reader that goes leaves its command --resume-grace to come back: a short one here.
  local server, box

  setup(function()
    server = helper.sbxd { args = { "--resume-grace", "0.3" } }
    box = sbx.create { url = server.url, api_key = server.key }
  end)

  teardown(function()
    box:close()
    server.stop()
  end)

  it("run two sleeps at once", function()
    local t0 = core.now()
    local a = sbx.go(function() return box.commands:run("sleep 1; echo a").stdout end)
    local b = sbx.go(function() return box.commands:run("sleep 1; echo b").stdout end)
    assert.are.equal("running", a:status())
    sbx.loop()
    assert.are.equal("a\n", a:wait())
    assert.are.equal("b\n", b:wait())
    assert.are.equal("done", b:status())
    assert.is_true(core.now() - t0 < 1.8, "took " .. (core.now() - t0) .. " s")
  end)

  it("give 1,000 concurrent runs each their own output", function()
    local tasks = {}
    for i = 1, 1000 do
      tasks[i] = sbx.go(function() return box.commands:run("echo " .. i).stdout end)
    end
    sbx.loop()
    for i = 1, 1000 do assert.are.equal(i .. "\n", tasks[i]:wait()) end
  end)

  it("never block in step(0)", function()
    local t = sbx.go(function() return box.commands:run("sleep 0.5; echo late").stdout end)
    local calls = 0
    for _ = 1, 2000 do
      sbx.step(0)
      calls = calls + 1
    end
    -- 2,000 calls came back while the command was still sleeping: none of them blocked.
    assert.are.equal("running", t:status())
    assert.are.equal(2000, calls)
    assert.are.equal("late\n", t:wait())
  end)

  it("return from step(timeout) by its timeout even after the host kept sbx idle", function()
    -- A stream is open and quiet; the host then works for a while without calling sbx.
    -- step(0.005) must come back in about 5 ms, not when the command next writes (3 s).
    local t = sbx.go(function() return box.commands:run("sleep 3; echo done").stdout end)
    for _ = 1, 20 do sbx.step(0.01) end
    local spin = sbx.now() + 0.05
    while sbx.now() < spin do end
    local t0 = sbx.now()
    sbx.step(0.005)
    local took = sbx.now() - t0
    t:cancel()
    assert.is_true(took < 1, ("step(0.005) took %.3f s"):format(took))
    assert.are.equal("CancelledError", helper.error_of(t.wait, t).kind)
  end)

  it("can be cancelled while blocked in run, and the command is killed", function()
    local t = sbx.go(function() return box.commands:run("sleep 7.25") end)
    assert.is_true(helper.eventually(function()
      return box.commands:run("pgrep -f '[s]leep 7.25' || true").stdout ~= ""
    end, 3))
    t:cancel()
    local err = helper.error_of(t.wait, t)
    assert.are.equal("CancelledError", err.kind)
    assert.are.equal("cancelled", t:status())
    assert.is_true(helper.eventually(function()
      return box.commands:run("pgrep -f '[s]leep 7.25' || true").stdout == ""
    end, 3), "the cancelled command still runs")
  end)

  it("start a burst of runs a few per step, and cancel those still waiting to start", function()
    -- One step hands at most a few new requests to curl; the rest wait their turn. A task
    -- cancelled before its request went out must end cleanly, and the others still run.
    local tasks = {}
    for i = 1, 40 do
      tasks[i] = sbx.go(function() return box.commands:run("echo " .. i).stdout end)
    end
    for i = 31, 40 do tasks[i]:cancel() end
    sbx.loop()
    for i = 1, 30 do assert.are.equal(i .. "\n", tasks[i]:wait()) end
    for i = 31, 40 do
      assert.are.equal("cancelled", tasks[i]:status())
      assert.are.equal("CancelledError", helper.error_of(tasks[i].wait, tasks[i]).kind)
    end
  end)

  it("leave a task about to take a large backlog to the next step", function()
    -- Here every byte an op holds "costs" 100 s, so a task woken with any backlog goes
    -- only first in a step; the time budget alone (10 s) would let both go at once.
    local task = require "sbx.task"
    local budget, per_byte = task.STEP_BUDGET, task.SECONDS_PER_BYTE
    task.STEP_BUDGET, task.SECONDS_PER_BYTE = 10, 100
    local ok, err = pcall(function()
      local a = sbx.go(function() return box.commands:run("sleep 0.3; echo a").stdout end)
      local b = sbx.go(function() return box.commands:run("sleep 0.3; echo b").stdout end)
      local started = core.now()
      while core.now() < started + 0.15 do sbx.step(0.01) end -- both commands started
      helper.sleep(0.5) -- both end; the rest of their answers waits in the sockets
      sbx.step(0)
      local done = (a:status() == "done" and 1 or 0) + (b:status() == "done" and 1 or 0)
      assert.are.equal(1, done)
      sbx.step(0) -- the one left goes first in the next step
      assert.are.equal("done", a:status())
      assert.are.equal("done", b:status())
      sbx.loop()
      assert.are.equal("a\n", a:wait())
      assert.are.equal("b\n", b:wait())
    end)
    task.STEP_BUDGET, task.SECONDS_PER_BYTE = budget, per_byte
    assert(ok, err)
  end)

  it("time out in order, after hundreds of others were woken before their deadlines", function()
    -- Every run's wait has a deadline; runs that end first leave theirs stale. The two
    -- on a stopped sbxd must still time out, the nearer one first.
    for i = 1, 300 do sbx.go(function() return box.commands:run("echo " .. i) end) end
    sbx.loop()
    local other = helper.sbxd()
    local b = sbx.create { url = other.url, api_key = other.key }
    testing.kill(other.daemon, 19) -- SIGSTOP: the socket accepts, nobody answers
    local order = {}
    local function run_until_timeout(name, seconds)
      return sbx.go(function()
        local err = helper.error_of(b.commands.run, b.commands, "true", { request_timeout = seconds })
        order[#order + 1] = name
        return err and err.kind
      end)
    end
    local late = run_until_timeout("late", 0.6)
    local early = run_until_timeout("early", 0.3)
    sbx.loop()
    testing.kill(other.daemon, 18) -- SIGCONT
    b:close()
    other.stop()
    assert.are.equal("TimeoutError", early:wait())
    assert.are.equal("TimeoutError", late:wait())
    assert.are.same({ "early", "late" }, order)
  end)

  it("sleep: a task yields to the others, the main chunk drives them, a cancel raises", function()
    local order = {}
    local a = sbx.go(function()
      sbx.sleep(0.3)
      order[#order + 1] = "a"
    end)
    local b = sbx.go(function()
      order[#order + 1] = "b"
      return box.commands:run("echo b").stdout
    end)
    assert.are.equal("running", a:status())
    local t0 = core.now()
    sbx.sleep(0.5) -- outside a task: blocks, and both tasks finish meanwhile
    assert.is_true(core.now() - t0 >= 0.5)
    assert.are.same({ "b", "a" }, order)
    assert.are.equal("done", a:status())
    assert.are.equal("b\n", b:wait())
    local c = sbx.go(function() sbx.sleep(30) end)
    c:cancel()
    local err = helper.error_of(c.wait, c)
    assert.are.equal("CancelledError", err and err.kind, tostring(err))
    for _, bad in ipairs { -1, "1", 0 / 0, math.huge } do
      err = helper.error_of(sbx.sleep, bad)
      assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
      assert.matches("^sleep: seconds must be", err.message)
    end
    sbx.sleep(0)
  end)

  it("refuse a wait that closes a circle of tasks each waiting for the next", function()
    -- a waits for b, b for c: c waiting for a could never end, nor could loop()
    local a, b, c
    a = sbx.go(function() sbx.sleep(0) return "a got " .. b:wait() end)
    b = sbx.go(function() sbx.sleep(0) return c:wait() end)
    c = sbx.go(function()
      sbx.sleep(0)
      local err = helper.error_of(a.wait, a)
      return err.kind .. ": " .. err.message
    end)
    sbx.loop()
    assert.are.equal("a got InvalidArgumentError: wait: the task waits for this one through 1 other: "
      .. "neither could ever go on", a:wait())
    -- two: the second to wait raises, and the first gets its error
    local x, y
    x = sbx.go(function() sbx.sleep(0) return y:wait() end)
    y = sbx.go(function() sbx.sleep(0) return x:wait() end)
    local err = helper.error_of(sbx.loop)
    assert.are.equal("wait: the task waits for this one: neither could ever go on", err and err.message)
    assert.are.equal(err, helper.error_of(x.wait, x))
    assert.are.same({ "failed", "failed" }, { x:status(), y:status() })
  end)

  it("refuse loop() inside a task, which would wait for that task too; step() is fine", function()
    local t = sbx.go(function()
      sbx.step(0)
      local err = helper.error_of(sbx.loop)
      return err.kind .. ": " .. err.message
    end)
    assert.are.equal("InvalidArgumentError: loop: called inside a task, it would wait for that task too: "
      .. "wait for the tasks it needs (t:wait())", t:wait())
  end)

  it("surface a failure nobody waited for from loop(), with its traceback", function()
    sbx.go(function() error("boom") end)
    local ok, err = pcall(sbx.loop)
    assert.is_false(ok)
    assert.matches("boom", err)
    assert.matches("traceback", err)
  end)

  it("re-raise the task's own error value from wait()", function()
    local value = { "mine" }
    local t = sbx.go(function() box.commands:run("true"); error(value) end)
    local ok, err = pcall(t.wait, t)
    assert.is_false(ok)
    assert.are.equal(value, err)
    assert.are.equal("failed", t:status())
    sbx.loop() -- seen through wait: loop has nothing to raise
  end)

  it("return several values from wait()", function()
    local t = sbx.go(function(a, b) return a, b, box.commands:run("echo x").stdout end, 1, nil)
    local a, b, c = t:wait()
    assert.are.same({ 1, nil, "x\n" }, { a, b, c })
  end)

  it("let a plain coroutine call run (it blocks) without breaking the scheduler", function()
    local t = sbx.go(function() return box.commands:run("sleep 0.3; echo task").stdout end)
    local out = coroutine.wrap(function() return box.commands:run("echo wrapped").stdout end)()
    assert.are.equal("wrapped\n", out)
    assert.are.equal("task\n", t:wait())
  end)
end)

describe("streaming callbacks", function()
  -- A reader that goes leaves its command --resume-grace to come back: a short one here.
  local server, box

  setup(function()
    server = helper.sbxd { args = { "--resume-grace", "0.3" } }
    box = sbx.create { url = server.url, api_key = server.key }
  end)

  teardown(function()
    box:close()
    server.stop()
  end)

  it("receive chunks as they arrive, and the result still holds everything", function()
    local chunks, errs = {}, {}
    local r = box.commands:run("for i in 1 2 3; do echo $i; sleep 0.1; done; echo e >&2", {
      on_stdout = function(c) chunks[#chunks + 1] = c end,
      on_stderr = function(c) errs[#errs + 1] = c end,
    })
    assert.are.equal("1\n2\n3\n", r.stdout)
    assert.are.equal("1\n2\n3\n", table.concat(chunks))
    assert.is_true(#chunks >= 3, "chunks: " .. #chunks)
    assert.are.equal("e\n", table.concat(errs))
    assert.are.equal("e\n", r.stderr)
  end)

  it("may call run from a callback inside a task", function()
    local inner = {}
    local t = sbx.go(function()
      return box.commands:run("echo a; echo b", {
        on_stdout = function(c)
          inner[#inner + 1] = box.commands:run("printf %s " .. c:gsub("%s", "")).stdout
        end,
      })
    end)
    local r = t:wait()
    assert.are.equal("a\nb\n", r.stdout)
    assert.are.equal(table.concat(inner), r.stdout:gsub("%s", ""))
  end)

  it("stop the command when a callback raises, and re-raise the same value", function()
    for _, value in ipairs { { "table error" }, "string error" } do
      local err = helper.error_of(box.commands.run, box.commands, "echo go; sleep 6.75", {
        on_stdout = function() error(value, 0) end,
      })
      assert.are.equal(value, err)
    end
    assert.is_true(helper.eventually(function()
      return box.commands:run("pgrep -f '[s]leep 6.75' || true").stdout == ""
    end, 3), "the command outlived its callback's error")
  end)

  it("keep flowing to a task while the main chunk blocks in run", function()
    local seen = 0
    local t = sbx.go(function()
      return box.commands:run("for i in 1 2 3 4 5; do echo $i; sleep 0.1; done", {
        on_stdout = function() seen = seen + 1 end,
      })
    end)
    box.commands:run("sleep 0.35")
    assert.is_true(seen >= 2, "chunks seen while the main chunk waited: " .. seen)
    t:wait()
  end)
end)

describe("the pollable loop", function()
  it("exposes a descriptor, 'r' and a timeout", function()
    assert.are.equal("number", math.type(sbx.pollfd()) and "number")
    assert.is_true(sbx.pollfd() >= 0)
    assert.are.equal("r", sbx.events())
    sbx.loop()
    assert.is_nil(sbx.timeout(), "an idle sbx must not ask its host to wake it")
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local t = sbx.go(function() return box.commands:run("sleep 0.2; echo z").stdout end)
    local wait = sbx.timeout()
    assert.is_true(wait == nil or wait >= 0)
    assert.are.equal("z\n", t:wait())
    box:close()
    server.stop()
    assert.are.equal("InvalidArgumentError", helper.error_of(sbx.step, -1).kind)
    assert.are.equal("InvalidArgumentError", helper.error_of(sbx.go, 3).kind)
  end)

  it("lets a host that sleeps on pollfd and timeout() alone get a flood of output", function()
    -- The host sleeps until sbx's descriptor is readable or timeout() passes, and nil
    -- means "only the descriptor". Streams paused by the step budget have no I/O of
    -- their own to wake it: timeout() must say 0 while any is paused.
    local uv = require "luv_once"
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local sizes = {}
    for i = 1, 8 do
      sbx.go(function() sizes[i] = #box.commands:run("head -c 300000 /dev/zero").stdout end)
    end
    local poll, timer, guard = uv.new_poll(sbx.pollfd()), uv.new_timer(), uv.new_timer()
    local hung, finished = false, false
    local function stop() finished = true; poll:stop(); timer:stop(); guard:stop() end
    local function drive()
      if sbx.step(0) == 0 then return stop() end
      local t = sbx.timeout()
      timer:stop()
      if t then timer:start(math.ceil(t * 1000), 0, drive) end
    end
    -- luv's loop is shared and may not have run for a while: its clock is refreshed
    -- first, or the guard would count from when it last ran.
    uv.update_time()
    guard:start(20000, 0, function() hung = true; stop() end)
    poll:start("r", drive)
    drive()
    while not finished do uv.run("once") end -- not uv.run(): other specs' handles may live
    for _, h in ipairs { poll, timer, guard } do h:close() end
    uv.run("nowait")
    box:close()
    server.stop()
    assert.is_false(hung, "the host was never woken again")
    for i = 1, 8 do assert.are.equal(300000, sizes[i]) end
  end)
end)
