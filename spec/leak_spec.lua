-- 1,000 sequential runs leave no fd, process or memory growth in the client or in sbxd.
local sbx = require "sbx"
local testing = require "sbx.testing"
local helper = require "helper"

local function children(pid)
  return tonumber(helper.sh("ps --no-headers --ppid " .. pid .. " | wc -l"))
end

describe("1,000 sequential runs", function()
  it("leave no fd, process or memory growth", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local me = testing.getpid()
    for _ = 1, 100 do box.commands:run("echo warm") end -- caches, pools, allocator
    collectgarbage()
    local before = {
      fds = helper.fd_count(me), rss = helper.rss_kib(me),
      sfds = helper.fd_count(server.pid), srss = helper.rss_kib(server.pid),
    }
    for i = 1, 1000 do
      local r = box.commands:run("echo " .. i)
      assert(r.stdout == i .. "\n", r.stdout)
    end
    collectgarbage()
    assert.are.equal(before.fds, helper.fd_count(me))
    assert.are.equal(before.sfds, helper.fd_count(server.pid))
    -- sbxd's children are the sandbox's bwrap and the one of the sandbox it keeps warm;
    -- in the sandbox, the init and this command alone
    assert.are.equal(2, children(server.pid))
    assert.are.equal("init\nsh\nps\n", box.commands:run("ps -e -o comm=").stdout)
    -- Sanitizer runtimes keep freed memory in quarantine: RSS says nothing there.
    if not os.getenv("SBX_SANITIZED") then
      local grow, sgrow = helper.rss_kib(me) - before.rss, helper.rss_kib(server.pid) - before.srss
      assert.is_true(grow < 2048, "client RSS grew by " .. grow .. " KiB")
      assert.is_true(sgrow < 2048, "sbxd RSS grew by " .. sgrow .. " KiB")
    end
    box:close()
    server.stop()
  end)
end)
