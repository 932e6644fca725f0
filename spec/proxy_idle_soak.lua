-- Idle streams through nginx for 11 minutes, longer than any timeout on the way (nginx's
-- proxy_read_timeout and send_timeout, 120 s; sbxd's keep-alive interval, 15 s), on one
-- connection each: sbxd's keep-alives keep them open. Too slow for `make specs`: `make
-- soak` runs it. The client's connections go through spec/cutproxy.lua, cutting nothing,
-- only to count them: a stream that was cut and attached again would make one more.
local sbx = require "sbx"
local cluster = require "cluster"
local cutproxy = require "cutproxy"
local task = require "sbx.task"

local IDLE = 11 * 60

describe("through nginx", function()
  it("An idle SSE stream and an idle session stay open 11 minutes through nginx (keep-alives)", function()
    local c = cluster.start(1)
    local box, proxy
    finally(function() -- busted keeps one finally a test: this one undoes it all
      if proxy then proxy:close() end
      if box then box:kill() end
      c.stop()
    end)
    box = sbx.create { url = c.url, api_key = c.key, timeout = IDLE + 120 }
    proxy = cutproxy.start(c.port, {})
    local cut_since -- connections made after both streams were up: an attach after a cut
    local run, session = cutproxy.drive(function()
      local via = sbx.connect(box.id, { url = proxy.url, api_key = c.key })
      local s = via.commands:spawn("read line; echo \"got $line\"")
      local started = false
      local r = sbx.go(function()
        return via.commands:run(("echo start; sleep %d; echo end"):format(IDLE),
          { on_stdout = function() started = true end })
      end)
      while not started do task.sleep(0.01) end
      local before = proxy.connections
      task.sleep(IDLE)
      s.stdin:write("hello\n")
      local result = s:wait()
      s:close()
      local run = r:wait()
      cut_since = proxy.connections - before
      return run, result
    end, IDLE + 60)
    assert.are.same({ "start\nend\n", 0 }, { run.stdout, run.exit_code })
    assert.are.same({ "got hello\n", 0 }, { session.stdout, session.exit_code })
    assert.are.equal(0, cut_since, "a stream was cut and attached again")
  end)
end)
