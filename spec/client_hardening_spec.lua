-- The client used carelessly: sbxd unreachable over a unix socket, and the build's
-- sanitized unit tests.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"

describe("a careless client", function()
  it("names the unix socket it cannot reach, never localhost port 80", function()
    local dir = assert(core.mkdtemp("/tmp/sbx-spec-"))
    local url = "unix:" .. dir .. "/sbxd.sock"
    local err = helper.error_of(sbx.create, { url = url })
    assert.are.equal("SandboxError", err.kind)
    assert.are.equal("cannot reach sbxd at " .. url .. ": No such file or directory", err.message)
    -- a socket file that nothing listens on any more: an sbxd killed at that path
    local dead = helper.sbxd { tcp = false }
    dead.daemon:kill(9)
    assert.is_true(helper.eventually(function() return not helper.alive(dead.pid) end, 5))
    err = helper.error_of(sbx.list, { url = dead.url, api_key = dead.key })
    assert.are.equal("SandboxError", err.kind)
    assert.are.equal("cannot reach sbxd at " .. dead.url .. ": Connection refused", err.message)
    dead.stop()
    os.remove(dir)
  end)

  it("names the unix socket when a run cannot reach sbxd", function()
    local other = helper.sbxd { tcp = false }
    local box = sbx.create { url = other.url, api_key = other.key }
    other.daemon:kill(9)
    assert.is_true(helper.eventually(function() return not helper.alive(other.pid) end, 5))
    local err = helper.error_of(box.commands.run, box.commands, "true")
    assert.are.equal("SandboxError", err.kind)
    assert.are.equal("cannot reach sbxd at " .. other.url .. ": Connection refused", err.message)
    box:close(true)
    other.stop()
  end)

  it("gives make check's sanitized unit tests the sanitized build", function()
    -- a dry run (-n) only prints the commands; the make running this spec is left out
    local out = helper.sh("env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -n check")
    local line = out:match("[^\n]*SBX_TEST_CPATH=[^\n]*")
    assert.is_not_nil(line, out)
    assert.matches('SBX_TEST_CPATH="[^"]*/build%-asan/%?%.so"', line)
    assert.matches('SBX_SBXD="[^"]*/build%-asan/sbxd"', line)
  end)
end)
