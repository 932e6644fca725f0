-- Sandboxes kept warm: sbxd starts one ahead (--warm N), and a create with the defaults
-- takes it. It is nobody's until then: not listed, its lifetime not running.
local sbx = require "sbx"
local helper = require "helper"

--- sbxd's children: a bwrap per sandbox, taken or warm.
local function children(pid)
  return tonumber(helper.sh("ps --no-headers --ppid " .. pid .. " | wc -l"))
end

describe("a warm sandbox", function()
  local server, opts

  setup(function()
    server = helper.sbxd()
    opts = { url = server.url, api_key = server.key }
  end)

  teardown(function() server.stop() end)

  it("is started after a create, and taken by the next create with the defaults", function()
    local first <close> = sbx.create(opts)
    assert.is_true(helper.eventually(function() return children(server.pid) == 2 end, 5))
    local ids = {}
    for _, info in ipairs(sbx.list(opts)) do ids[#ids + 1] = info.id end
    assert.are.same({ first.id }, ids) -- the warm one is nobody's: not listed
    local second <close> = sbx.create(opts)
    assert.are_not.equal(first.id, second.id)
    -- taken, and another one started in its place
    assert.is_true(helper.eventually(function() return children(server.pid) == 3 end, 5))
    first.commands:run("echo mine > /home/user/f")
    assert.matches("No such file", second.commands:run("cat /home/user/f").stderr)
    assert.are.equal("init\nsh\nps\n", second.commands:run("ps -e -o comm=").stdout)
  end)

  it("has its lifetime counted from its create, not from its start", function()
    local ahead <close> = sbx.create(opts)
    assert.is_truthy(ahead.id)
    helper.sleep(1.2) -- the warm one waits meanwhile
    local box = sbx.create { url = server.url, api_key = server.key, timeout = 1 }
    local info = box:info()
    assert.is_true(info.expires_at - info.started_at > 0.99 and info.expires_at - info.started_at < 1.01)
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
    box:kill()
  end)

  it("is not taken by a create with network or limits", function()
    local ahead <close> = sbx.create(opts)
    assert.is_truthy(ahead.id)
    assert.is_true(helper.eventually(function() return children(server.pid) >= 2 end, 5))
    local before = children(server.pid)
    local net <close> = sbx.create { url = server.url, api_key = server.key, network = true }
    assert.are.equal(before + 1, children(server.pid))
    assert.is_true(net:info().network)
    local ifaces = net.commands:run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '").stdout
    assert.are_not.equal("lo\n", ifaces)
  end)

  it("is none with --warm 0", function()
    local cold = helper.sbxd { args = { "--warm", "0" } }
    local box = sbx.create { url = cold.url, api_key = cold.key }
    helper.sleep(0.3)
    assert.are.equal(1, children(cold.pid))
    box:kill()
    cold.stop()
  end)
end)
