-- Pause and resume: every process of a paused sandbox stands still, and so do its
-- lifetime and its commands' timeouts; a command call or a connect resumes it.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"

--- Steps the loop for `seconds` (tasks run meanwhile).
local function wait(seconds)
  local until_ = core.now() + seconds
  while core.now() < until_ do sbx.step(0.02) end
end

for _, mode in ipairs { "bwrap", "none" } do
  describe("a paused sandbox (isolation " .. mode .. ")", function()
    local server, opts

    setup(function()
      server = helper.sbxd { args = { "--isolation", mode } }
      opts = { url = server.url, api_key = server.key }
    end)

    teardown(function() server.stop() end)

    it("stops a looping writer's output until it is resumed", function()
      local box <close> = sbx.create(opts)
      local out = {}
      local t = sbx.go(function()
        return box.commands:run("i=0; while [ $i -lt 400 ]; do echo $i; i=$((i+1)); sleep 0.01; done",
          { on_stdout = function(chunk) out[#out + 1] = chunk end })
      end)
      wait(0.3)
      assert.is_true(box:pause())
      assert.are.equal("paused", box:info().state)
      wait(0.1) -- what was in flight at the pause
      local seen = table.concat(out)
      wait(0.5)
      assert.are.equal(seen, table.concat(out), "no output while paused")
      assert.is_true(box:resume())
      assert.are.equal("running", box:info().state)
      local r = t:wait()
      assert.are.equal(0, r.exit_code)
      local expect = {}
      for i = 0, 399 do expect[#expect + 1] = i .. "\n" end
      assert.are.equal(table.concat(expect), r.stdout)
    end)

    it("is resumed by a command, which returns its output", function()
      local box <close> = sbx.create(opts)
      box:pause()
      assert.are.equal("hi\n", box.commands:run("echo hi").stdout)
      assert.are.equal("running", box:info().state)
    end)

    it("is resumed by a connect", function()
      local box <close> = sbx.create(opts)
      box:pause()
      local again = sbx.connect(box.id, opts)
      assert.are.equal("running", again:info().state)
    end)

    it("is resumed by a wait on a background handle or a session that runs in it", function()
      local box <close> = sbx.create(opts)
      --- What task `t` returned, once it ended within 10 s; else it is cancelled and fails.
      local function within_10s(t)
        helper.task_ends_within(t, 10, "the wait did not end: the sandbox stayed paused")
        return t:wait()
      end
      local h = box.commands:run("echo one; sleep 0.3; echo two", { background = true })
      assert.is_true(helper.eventually(function() sbx.step(0.01); return h.stdout == "one\n" end, 5))
      box:pause()
      wait(0.5)
      assert.are.equal("one\n", h.stdout) -- stood still while paused
      local r = within_10s(sbx.go(function() return h:wait() end))
      assert.are.same({ 0, "one\ntwo\n", "running" }, { r.exit_code, r.stdout, box:info().state })

      local s <close> = box.commands:spawn("cat; sleep 0.3; echo end")
      s.stdin:write("in\n")
      s.stdin:close()
      assert.is_true(helper.eventually(function() sbx.step(0.01); return s.stdout == "in\n" end, 5))
      box:pause()
      r = within_10s(sbx.go(function() return s:wait() end))
      assert.are.same({ 0, "in\nend\n", "running" }, { r.exit_code, r.stdout, box:info().state })
    end)

    it("takes pause and resume again as no-ops", function()
      local box <close> = sbx.create(opts)
      assert.is_true(box:pause())
      assert.is_true(box:pause())
      assert.are.equal("paused", box:info().state)
      assert.is_true(box:resume())
      assert.is_true(box:resume())
      assert.are.equal("running", box:info().state)
    end)

    it("holds its lifetime: it outlives it while paused, and ends after the rest of it", function()
      local box = sbx.create { url = server.url, api_key = server.key, timeout = 0.6 }
      box:pause()
      local before = box:info().expires_at
      helper.sleep(0.9)
      local info = box:info()
      assert.are.equal("paused", info.state)
      -- its end moved on with the time it stood still
      local moved = info.expires_at - before
      assert.is_true(moved > 0.8 and moved < 1.5, "expires_at moved by " .. moved)
      box:resume()
      assert.are.equal("running", box:info().state)
      assert.is_true(helper.eventually(function()
        return helper.error_of(box.info, box) ~= nil
      end, 3), "the sandbox ended after the rest of its lifetime")
    end)

    it("holds a command's timeout", function()
      local box <close> = sbx.create(opts)
      local started = core.now()
      local t = sbx.go(function()
        return helper.error_of(box.commands.run, box.commands, "sleep 5", { timeout = 0.6 })
      end)
      wait(0.2)
      box:pause()
      wait(0.8)
      box:resume()
      local err = t:wait()
      assert.are.equal("TimeoutError", err.kind)
      assert.is_true(core.now() - started > 0.9, "the timeout stood still while paused")
    end)

    -- (in one mode: the backstop is the client's, and each run of it takes 7 s)
    if mode == "bwrap" then it("holds the client's backstop of a timeout: sbxd's timeout ends it", function()
      -- The client raises "sbxd did not end the command" once the timeout and
      -- max(request_timeout, 5) s have passed; a pause longer than that must not trip it.
      local box <close> = sbx.create { url = opts.url, api_key = opts.api_key, request_timeout = 1 }
      local started = core.now()
      local run = sbx.go(function()
        return helper.error_of(box.commands.run, box.commands, "sleep 100", { timeout = 0.5 })
      end)
      local spawned = sbx.go(function()
        local s <close> = box.commands:spawn("sleep 100", { timeout = 0.5 })
        return helper.error_of(s.wait, s)
      end)
      local h = box.commands:run("sleep 100", { background = true, timeout = 0.5 })
      local background = sbx.go(function() return helper.error_of(h.wait, h) end)
      wait(0.2)
      box:pause()
      wait(6.5)
      box:resume()
      for _, t in ipairs { run, spawned, background } do
        local err = t:wait()
        assert.are.equal("TimeoutError", err and err.kind, tostring(err))
        assert.matches("timed out after 0.5 s", err.message, 1, true)
      end
      assert.is_true(core.now() - started > 6.9, "the timeout stood still while paused")
    end) end

    it("cannot be paused or resumed once killed", function()
      local box = sbx.create(opts)
      box:kill()
      for _, method in ipairs { "pause", "resume" } do
        local err = helper.error_of(box[method], box)
        assert.are.equal("NotFoundError", err.kind)
        assert.are.equal(404, err.status)
      end
    end)
  end)
end
