-- A Lua state that ends (its script returns, or os.exit closes it) while commands and
-- sessions of its own are in flight: they are killed as it ends, as a collected handle's
-- are, not left to sbxd's resume grace.
local sbx = require "sbx"
local helper = require "helper"

describe("a Lua state that ends with commands in flight", function()
  it("has them killed as it ends: runs, streams and sessions", function()
    -- a long resume grace: a command left to it would still be listed below
    local server = helper.sbxd { args = { "--resume-grace", "60" } }
    finally(function() server.stop() end)
    local box = sbx.create { url = server.url, api_key = server.key }
    local script = os.tmpname()
    finally(function() os.remove(script) end)
    helper.write_file(script, ([[
      local sbx = require "sbx"
      local box = sbx.connect(%q, { url = %q, api_key = %q })
      sbx.go(function() box.commands:run("sleep 60") end)
      sbx.go(function() box.commands:run("sleep 60", { on_stdout = print }) end)
      local s = box.commands:spawn("sleep 60")
      while #box.commands:list() < 3 do sbx.sleep(0.02) end
      print("started", s.pid ~= nil)
    ]]):format(box.id, server.url, server.key))
    local out = helper.sh(("%s lua5.4 %s 2>&1"):format(helper.lua_env(), helper.q(script)))
    assert.are.equal("started\ttrue", out)
    assert.is_true(helper.eventually(function() return #box.commands:list() == 0 end, 2),
      "left running: " .. #box.commands:list())
    box:close()
  end)
end)
