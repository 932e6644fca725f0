-- run{lines = true}: callbacks get one complete line at a time, with its "\n", whatever
-- chunks the output came in; a last unterminated line when the command ends.
local sbx = require "sbx"
local helper = require "helper"

describe("run with lines", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  --- Every line each callback got, in order.
  local function lines_of(cmd, opts)
    local out, err = {}, {}
    opts = opts or {}
    opts.lines = true
    opts.on_stdout = function(line) out[#out + 1] = line end
    opts.on_stderr = function(line) err[#err + 1] = line end
    local r = ctx.box.commands:run(cmd, opts)
    return out, err, r
  end

  it("hands over complete lines, empty ones and CRLF exact, and the unterminated last one", function()
    local out, _, r = lines_of([[printf 'a\n\nb\r\nc'; sleep 0.1; printf 'd\ne\n'; printf 'tail']])
    assert.are.same({ "a\n", "\n", "b\r\n", "cd\n", "e\n", "tail" }, out)
    assert.are.equal("a\n\nb\r\ncd\ne\ntail", r.stdout)
  end)

  it("joins a line of a megabyte that came in many chunks", function()
    local out, _, r = lines_of("head -c 1048576 /dev/zero | tr '\\0' 'x'; echo; echo next")
    assert.are.equal(2, #out)
    assert.are.equal(("x"):rep(1048576) .. "\n", out[1])
    assert.are.equal("next\n", out[2])
    assert.are.equal(out[1] .. out[2], r.stdout)
  end)

  it("keeps each stream's lines to its own callback when both interleave", function()
    local out, err = lines_of([[for i in 1 2 3; do printf "o$i-"; printf "e$i-" >&2; sleep 0.05; ]]
      .. [[printf "end\n"; printf "end\n" >&2; done; printf last >&2]])
    assert.are.same({ "o1-end\n", "o2-end\n", "o3-end\n" }, out)
    assert.are.same({ "e1-end\n", "e2-end\n", "e3-end\n", "last" }, err)
  end)

  it("delivers a line as soon as it is complete, before the command ends", function()
    local seen_at
    local started = sbx.now()
    ctx.box.commands:run("echo first; sleep 1; echo second", {
      lines = true,
      on_stdout = function(line) if line == "first\n" then seen_at = sbx.now() - started end end,
    })
    assert.is_true(seen_at ~= nil and seen_at < 0.9, "first line at " .. tostring(seen_at))
  end)

  it("is a boolean", function()
    local err = helper.error_of(ctx.box.commands.run, ctx.box.commands, "true", { lines = 1 })
    assert.are.equal("InvalidArgumentError", err.kind)
    assert.matches("lines", err.message)
  end)
end)
