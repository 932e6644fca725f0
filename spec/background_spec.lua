-- Background commands: run{background = true} returns a handle at once; its output grows
-- while anything drives the loop; wait, kill, stdin, disconnect and connect(pid).
local sbx = require "sbx"
local helper = require "helper"
local testing = require "sbx.testing"

describe("background commands", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  it("returns a handle with the pid at once, and wait returns the result", function()
    local h = ctx.box.commands:run("echo $$; sleep 0.3; echo out; echo err >&2", { background = true })
    assert.is_true(math.type(h.pid) == "integer" and h.pid > 1)
    local r = h:wait()
    assert.are.equal(h.pid .. "\nout\n", r.stdout)
    assert.are.equal("err\n", r.stderr)
    assert.are.equal(0, r.exit_code)
    assert.are.equal(h.pid, r.pid)
    assert.are.equal(r.stdout, h.stdout)
    assert.are.equal(r.stderr, h.stderr)
  end)

  it("grows h.stdout while the loop is driven, before wait", function()
    local h = ctx.box.commands:run("echo first; sleep 30", { background = true })
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return h.stdout == "first\n"
    end, 5), "h.stdout is " .. h.stdout)
    assert.is_true(h:kill())
  end)

  it("is killed when its run is cancelled before the handle came back", function()
    -- cancelled at every point of its start's round trip: before the request went, while
    -- sbxd starts the command, after its start event came but before run returned
    for steps = 0, 8 do
      local t = sbx.go(function() return ctx.box.commands:run("sleep 30.7205", { background = true }) end)
      for _ = 1, steps do sbx.step(0.002) end
      if t:status() == "running" then
        t:cancel()
        local err = helper.error_of(t.wait, t)
        assert.are.equal("CancelledError", err and err.kind, tostring(err))
      else
        assert.is_true(t:wait():kill()) -- it returned its handle: the caller holds it
      end
    end
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return #helper.pgrep("sleep 30.7205") == 0 and #ctx.box.commands:list() == 0
    end, 5), ("%d still run"):format(#helper.pgrep("sleep 30.7205")))
  end)

  it("ends a wait in another task with SandboxError when the handle is disconnected", function()
    for _, opts in ipairs { { background = true }, { background = true, on_stdout = function() end } } do
      local h = ctx.box.commands:run("echo a; sleep 1; echo b", opts)
      local waiter = sbx.go(function() return h:wait() end)
      sbx.step(0.05)
      h:disconnect()
      assert.is_true(helper.eventually(function() sbx.step(0.01) return waiter:status() ~= "running" end, 5),
        "the wait still waits")
      local err = helper.error_of(waiter.wait, waiter)
      assert.are.equal("SandboxError", err and err.kind, tostring(err))
      assert.matches("disconnected", err.message, 1, true)
      -- the process ran on; a later wait attaches again from where the handle stood
      assert.are.equal("a\nb\n", h:wait().stdout)
    end
  end)

  it("gives a wait's callbacks that wait's chunks only: a later wait neither calls them nor balks", function()
    local h = ctx.box.commands:run("sleep 0.1; echo 1; sleep 0.3; echo 2", { background = true })
    local err = helper.error_of(h.wait, h, function() error({ mine = true }) end)
    assert.is_true(type(err) == "table" and err.mine, tostring(err))
    local later = {}
    local r = h:wait(function(c) later[#later + 1] = c end)
    assert.are.same({ "1\n2\n", { "2\n" } }, { r.stdout, later })
    assert.are.equal("1\n2\n", h:wait().stdout)
  end)

  it("returns the handle before any of its callbacks runs", function()
    -- output that comes with the start used to reach the callbacks inside run, before
    -- the handle they may use existed (about a third of these, here)
    local early = 0
    for _ = 1, 100 do
      local h, seen
      h = ctx.box.commands:run("echo 1", { background = true, on_stdout = function() seen = h end })
      h:wait()
      if seen ~= h then early = early + 1 end
    end
    assert.are.equal(0, early)
  end)

  it("refuses a wait on the command from inside its own callback, at once", function()
    --- The error of task `t`, which must end within 10 s (a wait on itself never would).
    local function error_within_10s(t)
      helper.task_ends_within(t, 10, "the wait waited for itself")
      return helper.error_of(t.wait, t)
    end
    local h
    h = ctx.box.commands:run("echo 1; sleep 0.3", { background = true, on_stdout = function() h:wait() end })
    local err = error_within_10s(sbx.go(function() return h:wait() end))
    assert.are.same({ "InvalidArgumentError", "wait: a command's callback cannot wait for its own command" },
      { err and err.kind, err and err.message })
    local plain = ctx.box.commands:run("sleep 0.2; echo 1; sleep 0.3", { background = true })
    err = error_within_10s(sbx.go(function() return plain:wait(function() plain:wait() end) end))
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
  end)

  it("lets a callback disconnect its own handle: the wait says so, a later one attaches", function()
    local disconnected, got = false, {}
    local h
    h = ctx.box.commands:run("echo 1; sleep 0.3; echo 2", { background = true, on_stdout = function(c)
      got[#got + 1] = c
      if not disconnected then
        disconnected = true
        h:disconnect()
      end
    end })
    local err = helper.error_of(h.wait, h)
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    assert.matches("disconnected", err.message, 1, true)
    local r = h:wait()
    assert.are.same({ "1\n2\n", { "1\n", "2\n" } }, { r.stdout, got })
  end)

  it("gives every wait on one handle the result: tasks, the main chunk, one cancelled", function()
    for _, opts in ipairs { { background = true }, { background = true, on_stdout = function() end } } do
      local h = ctx.box.commands:run("echo a; sleep 0.6; echo b; exit 3", opts)
      local function exit_of() return helper.error_of(h.wait, h).result end
      local first, second = sbx.go(exit_of), sbx.go(exit_of)
      local cancelled = sbx.go(h.wait, h)
      sbx.step(0.05)
      cancelled:cancel()
      local r = exit_of() -- the main chunk, blocking
      assert.are.same({ 3, "a\nb\n" }, { r.exit_code, r.stdout })
      for _, t in ipairs { first, second } do
        assert.are.same({ 3, "a\nb\n" }, { t:wait().exit_code, t:wait().stdout })
      end
      assert.are.equal("CancelledError", helper.error_of(cancelled.wait, cancelled).kind)
    end
    -- the first wait, which follows the stream, cancelled: the next one follows it on
    local h = ctx.box.commands:run("echo a; sleep 0.6; echo b", { background = true })
    local leader = sbx.go(function() return h:wait() end)
    local next_one = sbx.go(function() return h:wait() end)
    sbx.step(0.05)
    leader:cancel()
    assert.are.equal("a\nb\n", next_one:wait().stdout)
    -- a disconnect ends them all
    h = ctx.box.commands:run("echo a; sleep 1", { background = true })
    local waits = { sbx.go(function() return h:wait() end), sbx.go(function() return h:wait() end) }
    sbx.step(0.05)
    h:disconnect()
    for _, t in ipairs(waits) do
      assert.matches("disconnected", helper.error_of(t.wait, t).message, 1, true)
    end
    assert.is_true(h:kill())
  end)

  it("raises CommandExitError with the result when the exit code is not 0", function()
    local h = ctx.box.commands:run("echo partial; exit 3", { background = true })
    local err = helper.error_of(h.wait, h)
    assert.are.equal("CommandExitError", err and err.kind, tostring(err))
    assert.are.equal(3, err.result.exit_code)
    assert.are.equal("partial\n", err.result.stdout)
  end)

  it("kill is true while it runs, false once it exited; the list shows it only while it runs", function()
    local h = ctx.box.commands:run("sleep 30", { background = true, tag = "bg" })
    local listed = false
    for _, p in ipairs(ctx.box.commands:list()) do
      if p.pid == h.pid then listed = p.tag == "bg" end
    end
    assert.is_true(listed)
    assert.is_true(h:kill())
    local err = helper.error_of(h.wait, h)
    assert.are.equal("CommandExitError", err and err.kind, tostring(err))
    assert.are.equal(137, err.result.exit_code)
    assert.are.equal("signal: SIGKILL", err.result.error)
    assert.is_false(h:kill())
    for _, p in ipairs(ctx.box.commands:list()) do assert.are_not.equal(h.pid, p.pid) end
  end)

  it("keeps running after disconnect; connect(pid):wait() gets every byte from the start", function()
    local h = ctx.box.commands:run("printf 'one\\n'; printf 'e1\\n' >&2; sleep 0.5; printf 'two\\n'",
      { background = true })
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return h.stdout == "one\n"
    end, 5))
    h:disconnect()
    assert.are.equal("one\n", h.stdout)
    helper.sleep(0.7)
    assert.are.equal("one\n", h.stdout) -- nothing comes after disconnect
    local again = ctx.box.commands:connect(h.pid)
    assert.are.equal(h.pid, again.pid)
    local r = again:wait()
    assert.are.equal("one\ntwo\n", r.stdout)
    assert.are.equal("e1\n", r.stderr)
    assert.are.equal(0, r.exit_code)
  end)

  it("a handle's wait after disconnect follows from where it stopped", function()
    local h = ctx.box.commands:run("echo a; sleep 0.4; echo b", { background = true })
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return h.stdout == "a\n"
    end, 5))
    h:disconnect()
    local r = h:wait()
    assert.are.equal("a\nb\n", r.stdout)
  end)

  it("runs its callbacks in a task of their own, which keeps sbx.loop() going", function()
    local seen = {}
    local h = ctx.box.commands:run("for i in 1 2 3; do echo $i; sleep 0.1; done", {
      background = true, lines = true,
      on_stdout = function(line)
        coroutine.yield() -- a handle's callbacks may yield (this task runs again next step)
        seen[#seen + 1] = line
      end,
    })
    sbx.loop()
    assert.are.same({ "1\n", "2\n", "3\n" }, seen)
    assert.are.equal("1\n2\n3\n", h:wait().stdout)
  end)

  it("kills the process when a callback raises, and the error comes out of wait", function()
    local h = ctx.box.commands:run("echo go; sleep 60.123", {
      background = true, on_stdout = function() error("callback failed", 0) end,
    })
    local ok, err = pcall(h.wait, h)
    assert.is_false(ok)
    assert.are.equal("callback failed", err)
    assert.is_true(helper.eventually(function()
      for _, p in ipairs(ctx.box.commands:list()) do
        if p.pid == h.pid then return false end
      end
      return true
    end, 5), "the process is gone")
  end)

  it("hands wait's callbacks the chunks that come after it is called", function()
    local h = ctx.box.commands:run("sleep 0.3; echo late", { background = true })
    local got = {}
    local r = h:wait(function(chunk) got[#got + 1] = chunk end)
    assert.are.equal("late\n", table.concat(got))
    assert.are.equal("late\n", r.stdout)
  end)

  it("raises NotFoundError from wait when the sandbox is killed", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local h = box.commands:run("sleep 60", { background = true })
    box:kill()
    local err = helper.error_of(h.wait, h)
    assert.are.equal("NotFoundError", err and err.kind, tostring(err))
    server.stop()
  end)

  it("raises TimeoutError from wait when its timeout kills it", function()
    local h = ctx.box.commands:run("sleep 60", { background = true, timeout = 0.3 })
    local err = helper.error_of(h.wait, h)
    assert.are.equal("TimeoutError", err and err.kind, tostring(err))
    assert.are.equal(137, err.result.exit_code)
  end)

  it("drives stdin: cat and read, and 8 MiB through cat exact", function()
    local h = ctx.box.commands:run("cat", { background = true })
    -- writes and the close return nothing, an empty write too
    assert.are.equal(0, select("#", h:send_stdin("")))
    assert.are.equal(0, select("#", h:send_stdin("a\0b")))
    assert.are.equal(0, select("#", h:close_stdin()))
    assert.are.equal("a\0b", h:wait().stdout)

    local r = ctx.box.commands:run([[sh -c 'read x; echo "got $x"']], { background = true })
    ctx.box.commands:send_stdin(r.pid, "hello\n")
    assert.are.equal("got hello\n", r:wait().stdout)

    local big = {}
    for i = 1, 128 do big[i] = string.char(i % 256):rep(65536) end
    local c = ctx.box.commands:run("cat", { background = true })
    for i = 1, 128 do c:send_stdin(big[i]) end
    c:close_stdin()
    local out = c:wait().stdout
    assert.are.equal(8 * 1024 * 1024, #out)
    assert.is_true(out == table.concat(big), "8 MiB through cat differ")
  end)

  it("writes its stdin option, then EOF; without one, stdin stays open", function()
    -- (a timeout: a stdin left open would keep cat waiting)
    local h = ctx.box.commands:run("cat; echo done", { background = true, stdin = "a\0b\n", timeout = 10 })
    assert.are.equal("a\0b\ndone\n", h:wait().stdout)
    local empty = ctx.box.commands:run("cat; echo done", { background = true, stdin = "", timeout = 10 })
    assert.are.equal("done\n", empty:wait().stdout)
    -- given stdin is the whole input: no write can follow it
    local given = ctx.box.commands:run("sleep 0.3; cat", { background = true, stdin = "x", timeout = 10 })
    assert.are.equal("ConflictError", helper.error_of(given.send_stdin, given, "more").kind)
    assert.are.equal("x", given:wait().stdout)
    local open = ctx.box.commands:run("cat", { background = true })
    open:send_stdin("later")
    open:close_stdin()
    assert.are.equal("later", open:wait().stdout)
  end)

  it("answers bad stdin and connect calls with clear errors", function()
    local cmds = ctx.box.commands
    assert.are.equal("NotFoundError", helper.error_of(cmds.send_stdin, cmds, 4000000, "x").kind)
    assert.are.equal("NotFoundError", helper.error_of(cmds.close_stdin, cmds, 4000000).kind)
    local unknown = cmds:connect(4000000)
    assert.are.equal("NotFoundError", helper.error_of(unknown.wait, unknown).kind)
    assert.are.equal("InvalidArgumentError", helper.error_of(cmds.send_stdin, cmds, 12, 42).kind)
    assert.are.equal("InvalidArgumentError", helper.error_of(cmds.send_stdin, cmds, "12", "x").kind)
    assert.are.equal("InvalidArgumentError", helper.error_of(cmds.connect, cmds, -1).kind)
    local h = cmds:run("true", { background = true })
    h:wait()
    assert.are.equal("ConflictError", helper.error_of(h.send_stdin, h, "late").kind)
    assert.is_false(cmds:kill(h.pid))
  end)

  it("does not know another sandbox's pid", function()
    -- a sandbox that ran nothing: no pid of its own can coincide with the other's
    local other, empty = sbx.create(ctx.opts), sbx.create(ctx.opts)
    local h = other.commands:run("sleep 30", { background = true })
    local cmds = empty.commands
    assert.is_false(cmds:kill(h.pid))
    local c = cmds:connect(h.pid)
    assert.are.equal("NotFoundError", helper.error_of(c.wait, c).kind)
    assert.are.equal("NotFoundError", helper.error_of(cmds.send_stdin, cmds, h.pid, "x").kind)
    assert.is_true(h:kill())
    other:close()
    empty:close()
  end)
end)

describe("a background command whose stream is cut while nobody waits on it", function()
  --- A server, a sandbox on it, and a handle of `cmd` once h.stdout is `first`; nil
  -- (the test pending) where ss -K cannot cut the stream.
  local function cut_after(cmd, first)
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local h = box.commands:run(cmd, { background = true })
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return h.stdout == first
    end, 5), "h.stdout is " .. h.stdout)
    if helper.destroy_connections(server.url:match(":(%d+)$")) == 0 then
      box:close()
      server.stop()
      return nil
    end
    return server, box, h
  end

  it("attaches again while the host only steps: h.stdout grows on, every byte once", function()
    local server, box, h = cut_after("echo one; sleep 1; echo two; sleep 1; echo three", "one\n")
    if not server then return pending("ss -K cannot destroy sockets here") end
    -- a handle without callbacks keeps no loop() going, following a cut included
    local t0 = sbx.now()
    sbx.loop()
    assert.is_true(sbx.now() - t0 < 0.5, "sbx.loop() took " .. (sbx.now() - t0) .. " s")
    -- a host's frames: steps, and no call on the handle
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return h.stdout == "one\ntwo\n"
    end, 5), "h.stdout is " .. h.stdout)
    local r = h:wait()
    assert.are.same({ "one\ntwo\nthree\n", 0 }, { r.stdout, r.exit_code })
    box:close()
    server.stop()
  end)

  it("keeps no sbx.loop() going while it tries to attach again, and wait raises", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key, request_timeout = 3 }
    local h = box.commands:run("echo up; sleep 30", { background = true })
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return h.stdout == "up\n"
    end, 5), "h.stdout is " .. h.stdout)
    local live = sbx.step(0)
    assert.is_true(testing.kill(server.daemon, 9))
    -- the cut is noticed, and the handle tries again (a refused port may be a proxy
    -- restarting) for request_timeout from the cut, pausing between tries: no task of
    -- it counts as live meanwhile (sbx.step returns how many are)
    local counted = {}
    local t0 = sbx.now()
    while sbx.now() - t0 < 1 do counted[sbx.step(0.02)] = true end
    assert.are.same({ [live] = true }, counted)
    t0 = sbx.now()
    sbx.loop()
    assert.is_true(sbx.now() - t0 < 0.5, "sbx.loop() took " .. (sbx.now() - t0) .. " s")
    local err = helper.error_of(h.wait, h)
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    assert.matches("could not be resumed", err.message)
    assert.are.equal("up\n", h.stdout)
    server.stop()
  end)

  it("gets every byte once when wait comes right after the cut", function()
    local server, box, h = cut_after("seq 1 3; sleep 0.5; seq 4 6", "1\n2\n3\n")
    if not server then return pending("ss -K cannot destroy sockets here") end
    local r = h:wait()
    assert.are.same({ "1\n2\n3\n4\n5\n6\n", 0 }, { r.stdout, r.exit_code })
    assert.are.equal(r.stdout, h.stdout)
    box:close()
    server.stop()
  end)
end)

describe("a stdin call whose connection is cut while it waits", function()
  it("is sent again: the bytes reach the command once, the close once", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local h = box.commands:run("sleep 1.2; cat", { background = true })
    local data = helper.random_bytes(4 * 1024 * 1024) -- past what the pipe holds: the write waits for cat
    local write = sbx.go(function() h:send_stdin(data) end)
    -- the kernel cuts both ends of every connection to sbxd three times while the write
    -- waits (as a proxy restarting does): its answer is lost each time
    if helper.cut_repeatedly(server.url:match(":(%d+)$"), 3, 0.25) == 0 then
      write:cancel()
      box:close()
      server.stop()
      return pending("ss -K cannot destroy sockets here")
    end
    write:wait()
    h:close_stdin()
    local r = h:wait()
    assert.are.equal(0, r.exit_code)
    assert.are.equal(#data, #r.stdout)
    assert.is_true(r.stdout == data, "the output is not the bytes once")
    box:close()
    server.stop()
  end)
end)

describe("stdin past sbxd's bound on a request body", function()
  local ctx = helper.sandbox_per_block(setup, teardown, { args = { "--max-body", "65536" } })

  it("as run's stdin option reaches the command whole while its output is read", function()
    local data = helper.random_bytes(3 * 1024 * 1024 + 3)
    local r = ctx.box.commands:run("cat", { stdin = data })
    assert.are.equal(0, r.exit_code)
    assert.is_true(r.stdout == data, "the output is not the input")
    local n = 0
    r = ctx.box.commands:run("cat; echo end >&2", { stdin = data, on_stdout = function(c) n = n + #c end })
    assert.are.same({ #data, "end\n" }, { n, r.stderr })
    -- a command that reads part of it, or none, ends as it would with a short stdin
    assert.are.equal(data:sub(1, 10), ctx.box.commands:run("head -c 10", { stdin = data }).stdout)
    assert.are.equal(3, ctx.box.commands:run("exit 3", { stdin = data }).exit_code)
    assert.are.same({}, ctx.box.commands:list())
  end)

  it("as a background run's stdin option is written whole, then EOF, as the loop runs", function()
    local data = helper.random_bytes(3 * 1024 * 1024 + 3)
    -- run returns at once; a task of the handle's writes the stdin, and keeps sbx.loop() going
    local h
    sbx.go(function()
      h = ctx.box.commands:run("sleep 0.2; cat", { background = true, stdin = data, timeout = 20 })
    end)
    sbx.loop()
    local r = ctx.box.commands:connect(h.pid):wait()
    assert.are.equal(#data, #r.stdout)
    assert.is_true(r.stdout == data, "the output is not the input")
    assert.is_true(h:wait().stdout == data, "the handle's output is not the input")
    -- a command that reads part of it ends as it would with a short stdin
    local head = ctx.box.commands:run("head -c 10", { background = true, stdin = data })
    assert.are.equal(data:sub(1, 10), head:wait().stdout)
    -- kill while the stdin is written: true, the rest goes nowhere, the end is the kill's
    local stuck = ctx.box.commands:run("sleep 100", { background = true, stdin = data })
    assert.is_true(stuck:kill())
    local err = helper.error_of(stuck.wait, stuck)
    assert.are.same({ "CommandExitError", 137 }, { err and err.kind, err and err.result.exit_code })
    sbx.loop() -- the writing task has ended: nothing is left to drive
    assert.are.same({}, ctx.box.commands:list())
  end)

  it("as send_stdin's data is written all, in order, in requests sbxd takes", function()
    -- 20 MiB is past the default bound (16 MiB) too; this sbxd takes 64 KiB a request
    for _, size in ipairs { 3 * 65536 + 7, 20 * 1024 * 1024 + 5 } do
      local data = helper.random_bytes(size)
      local h = ctx.box.commands:run("cat", { background = true })
      h:send_stdin(data)
      h:close_stdin()
      local out = h:wait().stdout
      assert.are.equal(#data, #out)
      assert.is_true(out == data, "the output is not the bytes in order")
    end
  end)
end)
