-- A streaming run's timeout is an idle timeout, enforced by sbxd: every chunk of output
-- starts it over. Without callbacks it stays the command's total time.
local sbx = require "sbx"
local helper = require "helper"

describe("a streaming run's timeout", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  local CHATTY = "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 0.3; done"

  it("lets a command that keeps talking run past it", function()
    local chunks = 0
    local started = sbx.now()
    local r = ctx.box.commands:run(CHATTY, { timeout = 1, on_stdout = function() chunks = chunks + 1 end })
    assert.are.equal(0, r.exit_code)
    assert.are.equal("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", r.stdout)
    assert.is_true(sbx.now() - started > 2.5)
    assert.is_true(chunks >= 5)
  end)

  it("ends a command silent for that long, with what it said so far", function()
    local started = sbx.now()
    local err = helper.error_of(ctx.box.commands.run, ctx.box.commands, "echo hello; sleep 30",
      { timeout = 1, on_stdout = function() end })
    local took = sbx.now() - started
    assert.are.equal("TimeoutError", err and err.kind, tostring(err))
    assert.are.equal("command sent no output for 1 s", err.message)
    assert.are.equal("hello\n", err.result.stdout)
    assert.are.equal("timeout", err.result.error)
    assert.is_true(took >= 0.9 and took < 5, "took " .. took)
  end)

  it("is the total time without a callback", function()
    local err = helper.error_of(ctx.box.commands.run, ctx.box.commands, CHATTY, { timeout = 1 })
    assert.are.equal("TimeoutError", err and err.kind, tostring(err))
    assert.are.equal("command timed out after 1 s", err.message)
  end)

  it("counts output a slow callback has not taken yet as speech", function()
    -- the callback holds the stream: sbxd stops reading, yet the command is not silent
    local r = ctx.box.commands:run("head -c 4000000 /dev/zero", { timeout = 0.5, on_stdout = function()
      helper.sleep(0.05)
    end })
    assert.are.equal(4000000, #r.stdout)
  end)
end)
