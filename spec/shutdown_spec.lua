-- sbxd's own shutdown (SIGTERM) after what a process's life may leave in its loop.
local sbx = require "sbx"
local helper = require "helper"

describe("sbxd's shutdown", function()
  it("ends after a foreground command waited out its resume grace twice (running, then exited)", function()
    local server = helper.sbxd { args = { "--resume-grace", "0.3" } }
    finally(function() server.stop() end)
    local box = sbx.create { url = server.url, api_key = server.key }
    -- A reader that goes away after the start without killing the command: curl, since
    -- the client kills a command whose stream it leaves. The grace runs out on the running
    -- command (sbxd kills it), then again on the exited one (sbxd releases it).
    local out = helper.sh(("curl -s -N --max-time 1 -H 'Authorization: Bearer %s' "
      .. "-H 'Accept: text/event-stream' -d '{\"cmd\":\"sleep 30\"}' %s/sandboxes/%s/processes")
      :format(server.key, server.url, box.id))
    local pid = assert(tonumber(out:match('"pid":(%d+)')), out)
    assert.is_true(helper.eventually(function() return #box.commands:list() == 0 end, 10),
      "the command was not killed")
    -- an attach would start the grace over: one look, well after it ran out
    helper.sleep(1.5)
    local err = helper.error_of(function() return box.commands:connect(pid):wait() end)
    assert.are.equal("NotFoundError", err and err.kind, "the command was not released")
    helper.sh("kill -TERM " .. server.pid)
    assert.is_true(helper.eventually(function() return not server.daemon:alive() end, 10),
      "sbxd did not exit after SIGTERM")
  end)
end)
