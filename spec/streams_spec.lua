-- Streaming output: chunks reach the callback as they come, and many large streams at
-- once each arrive whole and exact.
local sbx = require "sbx"
local helper = require "helper"

describe("streaming", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  it("hands a chunk to the callback before the command ends", function()
    local seen = {}
    ctx.box.commands:run("echo a; sleep 1; echo b", {
      on_stdout = function(chunk) seen[#seen + 1] = { chunk, sbx.now() } end,
    })
    assert.are.equal("a\n", seen[1][1])
    assert.are.equal("b\n", seen[#seen][1])
    assert.is_true(seen[#seen][2] - seen[1][2] > 0.5, "a came with b")
  end)

  it("attaches a stream with much output again with a bulk buffer, once, every byte once", function()
    -- The client's first 2 streams in flight read through a bulk receive buffer, the rest
    -- through curl's smallest; one of those that brings 64 KiB attaches again from where
    -- it is with a bulk buffer (Stream:outgrown, counted here). Each command writes 1 MiB
    -- of random bytes to stdout, half, a pause of 1 s, then the rest, and their sha256 to
    -- stderr. The pause holds: every start is out before any stream ends (a bulk holder
    -- that ended would leave its buffer to the next), and a stream past its first half
    -- has not ended, whenever its bytes came. So at least one of the 4 past the first 2
    -- attaches again, and none twice.
    local Stream = require "sbx.stream"
    local outgrown, counted = Stream.outgrown, {}
    Stream.outgrown = function(self)
      counted[self] = (counted[self] or 0) + 1
      return outgrown(self)
    end
    local ok, err = pcall(function()
      local cmd = "mkfifo /tmp/f$$; sha256sum < /tmp/f$$ | cut -d' ' -f1 >&2 & "
        .. "{ head -c 524288 /dev/urandom; sleep 1; head -c 524288 /dev/urandom; } | tee /tmp/f$$; "
        .. "wait; rm /tmp/f$$"
      local tasks = {}
      for i = 1, 6 do
        tasks[i] = sbx.go(function()
          local chunks = {}
          local r = ctx.box.commands:run(cmd, { on_stdout = function(c) chunks[#chunks + 1] = c end })
          return r, table.concat(chunks)
        end)
      end
      for i = 1, 6 do
        local r, streamed = tasks[i]:wait()
        assert.are.equal(0, r.exit_code, r.stderr)
        assert.are.equal(1048576, #r.stdout)
        assert.are.equal(r.stderr:gsub("\n$", ""), helper.sha256(r.stdout), "stream " .. i)
        assert.is_true(streamed == r.stdout, "stream " .. i .. ": the chunks differ from the output")
      end
    end)
    Stream.outgrown = outgrown
    assert(ok, err)
    local streams = 0
    for _, times in pairs(counted) do
      streams = streams + 1
      assert.are.equal(1, times, "a stream attached again more than once")
    end
    assert.is_true(streams >= 1, "no stream attached again")
  end)

  it("carries 100 concurrent streams of 4 MiB each, sha256-exact", function()
    -- each command writes 4 MiB of random bytes to stdout and their sha256 to stderr
    local cmd = "mkfifo /tmp/f$$; sha256sum < /tmp/f$$ | cut -d' ' -f1 >&2 & "
      .. "head -c 4194304 /dev/urandom | tee /tmp/f$$; wait; rm /tmp/f$$"
    local tasks = {}
    for i = 1, 100 do tasks[i] = sbx.go(function() return ctx.box.commands:run(cmd) end) end
    for i = 1, 100 do
      local r = tasks[i]:wait()
      assert.are.equal(0, r.exit_code, r.stderr)
      assert.are.equal(4194304, #r.stdout)
      assert.are.equal(r.stderr:gsub("\n$", ""), helper.sha256(r.stdout), "stream " .. i)
    end
  end)

  it("takes a blocking step's bytes in a call outside any task, a frame's under step(0)", function()
    -- A call in the main chunk blocks its caller, which has nothing else to do: each
    -- step takes up to 1 MiB of output (the stream's 256 KiB of undrained events pause it
    -- first). A host's step(0) keeps the frame's 32 KiB. core.step is counted here; the
    -- output is collected as well as handed to the callback, so every byte is checked.
    -- A blocking step takes what has come, which depends on how fast sbxd writes on this
    -- machine, so the main chunk is held to what no frame loop can do: fewer steps than
    -- one of 32 KiB each.
    local core = require "sbx.core"
    local step, steps = core.step, 0
    core.step = function(...)
      steps = steps + 1
      return step(...)
    end
    local size, got = 16 * 1024 * 1024, 0
    local cmd = "head -c " .. size .. " /dev/zero"
    local function count(chunk) got = got + #chunk end
    local ok, err = pcall(function()
      local r = ctx.box.commands:run(cmd, { on_stdout = count })
      assert.are.equal(size, got)
      assert.are.equal(size, #r.stdout)
      assert.is_true(steps < size / (32 * 1024), ("%d steps in the main chunk"):format(steps))
      steps, got = 0, 0
      local t = sbx.go(function() return ctx.box.commands:run(cmd, { on_stdout = count }) end)
      while t:status() == "running" do sbx.step(0) end
      assert.are.equal(size, #t:wait().stdout)
      assert.are.equal(size, got)
      assert.is_true(steps >= size / (32 * 1024), ("%d steps of a frame loop"):format(steps))
    end)
    core.step = step
    assert(ok, err)
  end)
end)
