-- Interactive sessions: box.commands:spawn over WebSocket (sbx.v1) against a real sbxd.
-- Exact bytes both ways, pty sessions, signals, every way a session ends, and the
-- lifetimes of a session that is closed, goes out of scope or is collected.
local sbx = require "sbx"
local helper = require "helper"
local testing = require "sbx.testing"
local task = require "sbx.task"

--- Whether pid runs in the sandbox (commands:list()).
local function listed(box, pid)
  for _, p in ipairs(box.commands:list()) do
    if p.pid == pid then return true end
  end
  return false
end

--- Steps until s.stdout (or s.stderr) holds `pattern`, at most `seconds`.
local function read_until(s, pattern, seconds, field)
  field = field or "stdout"
  local ok = helper.eventually(function()
    sbx.step(0.01)
    return s[field]:find(pattern) ~= nil
  end, seconds or 5)
  assert(ok, ("%s never showed %q: %q"):format(field, pattern, s[field]))
end

--- A string of n pseudo-random bytes (every byte value).
local function bytes(n, seed)
  local out, x = {}, seed or 7
  for i = 1, n do
    x = (x * 1103515245 + 12345) & 0x7fffffff
    out[i] = string.char(x >> 16 & 255)
  end
  return table.concat(out)
end

describe("spawn", function()
  local ctx = helper.sandbox_per_block(setup, teardown, { tcp = false })

  it("carries stdin and stdout exactly through cat, NUL bytes included; exit 0", function()
    local s <close> = ctx.box.commands:spawn("cat")
    assert.is_true(math.type(s.pid) == "integer" and s.pid > 1)
    s.stdin:write("a\0b")
    s.stdin:close()
    local r = s:wait()
    assert.are.equal("a\0b", r.stdout)
    assert.are.equal("", r.stderr)
    assert.are.equal(0, r.exit_code)
    assert.are.equal(s.pid, r.pid)
    assert.are.equal("a\0b", s.stdout)
  end)

  it("runs a command, cwd and env values of bytes that are not UTF-8, with a pty or without", function()
    ctx.box.commands:run("mkdir -p \"$(printf '/tmp/s\\351')\"")
    for _, pty in ipairs { false, true } do
      local s <close> = ctx.box.commands:spawn("printf '%s|%s|\xe9\xff' \"$V\" \"$(pwd)\"",
        { cwd = "/tmp/s\xe9", env = { V = "\x80" }, pty = pty and {} or nil })
      assert.are.equal(0, s:wait().exit_code)
      assert.are.equal("\x80|/tmp/s\xe9|\xe9\xff", s.stdout)
    end
  end)

  it("carries 8 MiB through cat in 64 KiB writes, exact", function()
    local s <close> = ctx.box.commands:spawn("cat")
    local chunk = bytes(64 * 1024)
    for i = 1, 128 do s.stdin:write(chunk:sub(i) .. chunk:sub(1, i - 1)) end
    s.stdin:close()
    local r = s:wait()
    assert.are.equal(8 * 1024 * 1024, #r.stdout)
    for i = 1, 128, 17 do
      local at = (i - 1) * 64 * 1024
      assert.are.equal(chunk:sub(i) .. chunk:sub(1, i - 1), r.stdout:sub(at + 1, at + 64 * 1024))
    end
  end)

  it("stops reading output nobody takes: the process waits, then every byte comes", function()
    local s <close> = ctx.box.commands:spawn("head -c 8000000 /dev/zero | tr '\\0' x; echo done >&2")
    local until_t = sbx.now() + 1
    while sbx.now() < until_t do sbx.step(until_t - sbx.now()) end -- the loop runs; nobody reads
    assert.is_true(listed(ctx.box, s.pid), "the process still runs: its output is held back")
    local r = s:wait()
    assert.are.equal(8000000, #r.stdout)
    assert.are.equal(("x"):rep(8000000), r.stdout)
    assert.are.equal("done\n", r.stderr)
  end)

  it("keeps stderr apart and returns a non-zero exit as a result, as run does", function()
    local s <close> = ctx.box.commands:spawn("echo out; echo err >&2; exit 3")
    local r = s:wait()
    assert.are.same({ 3, "out\n", "err\n" }, { r.exit_code, r.stdout, r.stderr })
    assert.is_nil(r.signal)
  end)

  it("drives sh -i line by line without a pty", function()
    local s <close> = ctx.box.commands:spawn("sh -i")
    for i = 1, 3 do
      s.stdin:write(("echo answer-%d-$((%d * 7))\n"):format(i, i))
      read_until(s, ("answer%%-%d%%-%d\n"):format(i, i * 7))
    end
    s.stdin:write("exit 0\n")
    assert.are.equal(0, s:wait().exit_code)
  end)

  it("drives sh -i line by line on a pty", function()
    local s <close> = ctx.box.commands:spawn("sh -i", { pty = { cols = 80, rows = 24 } })
    for i = 1, 3 do
      s.stdin:write(("echo answer-%d-$((%d * 7))\n"):format(i, i))
      read_until(s, ("answer%%-%d%%-%d\r\n"):format(i, i * 7))
    end
    assert.are.equal("", s.stderr, "a pty session's output is all on stdout")
    s.stdin:write("exit 0\n")
    assert.are.equal(0, s:wait().exit_code)
  end)

  it("runs on a terminal of its own: tty, stty size and resize", function()
    local s <close> = ctx.box.commands:spawn("tty; stty size; read line; stty size",
      { pty = { cols = 100, rows = 30 } })
    read_until(s, "30 100\r\n")
    assert.matches("^/dev/pts/%d+\r\n", s.stdout)
    s:resize(132, 43)
    s.stdin:write("go\n")
    local r = s:wait()
    assert.matches("43 132\r\n$", r.stdout)
  end)

  it("gets every byte a command on a pty printed before it exited", function()
    -- the pty's master reports a hangup once the command exits, while its last output may
    -- still be on its way to the master: that output comes all the same (each of these
    -- sessions lost its tail about every other time when the hangup ended the reads)
    local lines = {}
    for i = 1, 30000 do lines[i] = i .. "\r\n" end
    local want = table.concat(lines) .. "END\r\n"
    for _ = 1, 10 do
      local s <close> = ctx.box.commands:spawn("seq 1 30000; echo END", { pty = { cols = 80, rows = 24 } })
      local r = s:wait()
      assert.are.equal(#want, #r.stdout)
      assert.are.equal(want, r.stdout)
    end
  end)

  it("interrupts sleep with ^C on a pty", function()
    -- once "ready" shows, the shell runs on the terminal: ^C reaches its process group (the
    -- shell execs sleep: a shell that forks a command may lose a SIGINT that comes as the
    -- child starts; dash does, now and then)
    local s <close> = ctx.box.commands:spawn("echo ready; exec sleep 100", { pty = {} })
    read_until(s, "ready")
    s.stdin:write("\3")
    local r = s:wait()
    assert.are.equal(130, r.exit_code)
    assert.are.equal("SIGINT", r.signal)
  end)

  it("refuses resize without a pty, and bad sizes", function()
    local s <close> = ctx.box.commands:spawn("cat")
    assert.are.equal("InvalidArgumentError", helper.error_of(s.resize, s, 80, 24).kind)
    local p <close> = ctx.box.commands:spawn("cat", { pty = {} })
    assert.are.equal("InvalidArgumentError", helper.error_of(p.resize, p, 0, 24).kind)
    assert.are.equal("InvalidArgumentError", helper.error_of(p.resize, p, 80, 65536).kind)
    assert.are.equal("InvalidArgumentError",
      helper.error_of(ctx.box.commands.spawn, ctx.box.commands, "cat", { pty = { cols = 1.5 } }).kind)
    assert.are.equal("kill: a signal number is an integer 1..64", helper.error_of(p.kill, p, 9.5).message)
  end)

  it("takes sizes and signal numbers that are floats with whole values, as Lua's own functions do", function()
    local s <close> = ctx.box.commands:spawn("stty size; read x; stty size; exec sleep 100",
      { pty = { cols = 100.0, rows = 30.0 } })
    read_until(s, "30 100")
    s:resize(120.0, 40.0)
    s.stdin:write("\n")
    read_until(s, "40 120")
    assert.is_true(s:kill(15.0))
    assert.are.equal("SIGTERM", s:wait().signal)
  end)

  it("kill sends SIGTERM by default, a name, or a number; the result reports it", function()
    for _, case in ipairs { { nil, "SIGTERM", 143 }, { "SIGINT", "SIGINT", 130 }, { "HUP", "SIGHUP", 129 },
        { 9, "SIGKILL", 137 } } do
      -- the signal goes once the shell has exec'd sleep: a shell about to start a command
      -- may lose a SIGINT (dash does, now and then)
      local s <close> = ctx.box.commands:spawn("echo ready; exec sleep 100")
      read_until(s, "ready")
      assert.is_true(s:kill(case[1]))
      local r = s:wait()
      assert.are.equal(case[3], r.exit_code)
      assert.are.equal(case[2], r.signal)
      assert.is_false(s:kill(), "the process has ended")
    end
  end)

  it("refuses an unknown signal", function()
    local s <close> = ctx.box.commands:spawn("sleep 100")
    for _, bad in ipairs { "SIGFOO", "FOO", "sigterm", 0, 65, 1.5, true } do
      local err = helper.error_of(s.kill, s, bad)
      assert.are.equal("InvalidArgumentError", err and err.kind, tostring(bad))
    end
    assert.are.equal("kill: unknown signal \"SIG\\xff\"", helper.error_of(s.kill, s, "SIG\xff").message)
    assert.are.equal("kill: sig must be a signal name or number, not a table",
      helper.error_of(s.kill, s, {}).message)
  end)

  it("kills the process when a <close> session leaves its scope", function()
    local pid
    do
      local s <close> = ctx.box.commands:spawn("sleep 100")
      pid = s.pid
      assert.is_true(listed(ctx.box, pid))
    end
    assert.is_true(helper.eventually(function() return not listed(ctx.box, pid) end, 3))
  end)

  it("kills the process of a session that was dropped, at the next collection", function()
    local pid = ctx.box.commands:spawn("sleep 100").pid
    assert.is_true(listed(ctx.box, pid))
    collectgarbage()
    collectgarbage()
    assert.is_true(helper.eventually(function() return not listed(ctx.box, pid) end, 3))
  end)

  it("closes twice without harm; a closed session's methods raise", function()
    local s = ctx.box.commands:spawn("sleep 100")
    local pid = s.pid
    s:close()
    s:close()
    local err = helper.error_of(s.stdin.write, s.stdin, "x")
    assert.are.equal("InvalidArgumentError", err and err.kind)
    assert.matches("attempt to use a closed session", err.message)
    for _, m in ipairs { "wait", "kill", "resize" } do
      assert.matches("attempt to use a closed session", helper.error_of(s[m], s, 80, 24).message)
    end
    assert.are.equal(pid, s.pid)
    assert.is_true(helper.eventually(function() return not listed(ctx.box, pid) end, 3))
  end)

  it("refuses stdin after stdin:close", function()
    local s <close> = ctx.box.commands:spawn("cat")
    s.stdin:close()
    s.stdin:close()
    assert.are.equal("ConflictError", helper.error_of(s.stdin.write, s.stdin, "late").kind)
    assert.are.equal(0, s:wait().exit_code)
  end)

  it("calls on_stdout and on_stderr as output arrives", function()
    local out, errs = {}, {}
    local s <close> = ctx.box.commands:spawn("read x; echo got $x; echo e >&2; read y",
      { on_stdout = function(c) out[#out + 1] = c end, on_stderr = function(c) errs[#errs + 1] = c end })
    s.stdin:write("one\n")
    assert.is_true(helper.eventually(function()
      sbx.step(0.01)
      return table.concat(out) == "got one\n" and table.concat(errs) == "e\n"
    end, 5), "callbacks got: " .. table.concat(out))
    s.stdin:write("two\n")
    assert.are.equal("got one\n", s:wait().stdout)
  end)

  it("raises an error a callback raises, and kills the process", function()
    local boom = setmetatable({}, { __tostring = function() return "boom" end })
    local s <close> = ctx.box.commands:spawn("echo hi; sleep 100", { on_stdout = function() error(boom) end })
    local pid = s.pid
    assert.are.equal(boom, helper.error_of(s.wait, s))
    assert.is_true(helper.eventually(function() return not listed(ctx.box, pid) end, 3))
  end)

  it("ends a session at its timeout with TimeoutError", function()
    local s <close> = ctx.box.commands:spawn("sleep 100", { timeout = 0.3 })
    local err = helper.error_of(s.wait, s)
    assert.are.equal("TimeoutError", err and err.kind, tostring(err))
    assert.are.equal("timeout", err.result.error)
  end)

  it("refuses a bad start with the server's error kind, message and status", function()
    local err = helper.error_of(ctx.box.commands.spawn, ctx.box.commands, "true", { cwd = "/nonexistent" })
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
    assert.are.same({ "cwd: no such directory '/nonexistent'", 400 }, { err.message, err.status })
    -- a cwd of bytes that are not UTF-8: the message shows them as '?' (JSON text)
    err = helper.error_of(ctx.box.commands.spawn, ctx.box.commands, "true", { cwd = "/no/\xe9" })
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
    assert.are.same({ "cwd: no such directory '/no/?'", 400 }, { err.message, err.status })
    err = helper.error_of(ctx.box.commands.spawn, ctx.box.commands, "")
    assert.are.equal("InvalidArgumentError", err and err.kind)
    err = helper.error_of(ctx.box.commands.spawn, ctx.box.commands, "true", { background = true })
    assert.are.equal("InvalidArgumentError", err and err.kind)
  end)

  it("raises the kind of an upgrade sbxd refuses", function()
    local other = sbx.connect(ctx.box.id, { url = ctx.server.url, api_key = ctx.server.key })
    local gone = sbx.create(ctx.opts)
    gone:kill()
    local err = helper.error_of(gone.commands.spawn, gone.commands, "true")
    assert.are.equal("NotFoundError", err and err.kind, tostring(err))
    assert.are.equal(404, err.status)
    other.commands.box.client.api_key = "wrong" -- the same sandbox, a wrong key
    other.commands.box.client.target = nil
    err = helper.error_of(other.commands.spawn, other.commands, "true")
    assert.are.equal("AuthenticationError", err and err.kind, tostring(err))
  end)

  it("yields inside a task: another task progresses meanwhile", function()
    local ticks = 0
    local ticker = sbx.go(function()
      for _ = 1, 1000 do
        ticks = ticks + 1
        task.sleep(0)
      end
    end)
    local t = sbx.go(function()
      local before = ticks
      local s <close> = ctx.box.commands:spawn("cat")
      local during = ticks - before
      s.stdin:write("x")
      s.stdin:close()
      return s:wait().stdout, during
    end)
    assert.are.equal("running", t:status(), "sbx.go returned while spawn waited")
    local out, during = t:wait()
    assert.are.equal("x", out)
    assert.is_true(during > 0, "the ticker ticked while spawn waited")
    ticker:cancel()
  end)

  it("task:cancel() closes the sessions the task opened", function()
    local pid
    local t = sbx.go(function()
      local s = ctx.box.commands:spawn("sleep 100")
      pid = s.pid
      s:wait()
    end)
    assert.is_true(helper.eventually(function() sbx.step(0.01) return pid ~= nil end, 5))
    t:cancel()
    assert.are.equal("CancelledError", helper.error_of(t.wait, t).kind)
    assert.is_true(helper.eventually(function() return not listed(ctx.box, pid) end, 3))
  end)

  it("returns the session before any of its callbacks runs", function()
    -- output that comes right after the pid used to reach the callbacks inside spawn,
    -- before the session they may use was returned (a few in a hundred, here)
    local early = 0
    for _ = 1, 100 do
      local s, seen
      s = ctx.box.commands:spawn("echo 1", { on_stdout = function() seen = s end })
      s:wait()
      s:close()
      if seen ~= s then early = early + 1 end
    end
    assert.are.equal(0, early)
  end)

  it("refuses a wait on the session from inside its own callback, at once", function()
    local s
    s = ctx.box.commands:spawn("echo 1; sleep 0.3", { on_stdout = function() s:wait() end })
    local t = sbx.go(function() return s:wait() end)
    helper.task_ends_within(t, 10, "the wait waited for itself")
    local err = helper.error_of(t.wait, t)
    assert.are.same({ "InvalidArgumentError", "wait: a session's callback cannot wait for its own session" },
      { err and err.kind, err and err.message })
    s:close()
  end)

  it("keeps in s.stdout and s.stderr what came before close, read or not", function()
    local backlog = require("sbx.session").Session.backlog
    local s = ctx.box.commands:spawn("echo hi; echo err >&2; sleep 30")
    -- both lines are in the client (held for Lua), not yet read by anyone
    assert.is_true(helper.eventually(function() sbx.step(0.01) return backlog(s) >= 7 end, 5))
    s:close()
    assert.are.same({ "hi\n", "err\n" }, { s.stdout, s.stderr })
  end)

  it("ends a wait in another task when the session is closed, by close() or <close>", function()
    local function ended(t)
      return helper.eventually(function() sbx.step(0.01) return t:status() ~= "running" end, 5)
    end
    local s = ctx.box.commands:spawn("sleep 30")
    local waiter = sbx.go(function() return s:wait() end)
    sbx.step(0.01)
    s:close()
    assert.is_true(ended(waiter), "the wait still waits")
    local err = helper.error_of(waiter.wait, waiter)
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
    assert.matches("closed session", err.message, 1, true)
    -- the same when the <close> variable of the task that spawned it goes out of scope
    local shared
    local owner = sbx.go(function()
      local mine <close> = ctx.box.commands:spawn("sleep 30")
      shared = mine
      task.sleep(0.2)
    end)
    assert.is_true(helper.eventually(function() sbx.step(0.01) return shared ~= nil end, 5))
    local pid = shared.pid
    local waiter2 = sbx.go(function() return shared:wait() end)
    assert.is_true(ended(waiter2), "the wait still waits")
    assert.are.equal("InvalidArgumentError", helper.error_of(waiter2.wait, waiter2).kind)
    owner:wait()
    assert.is_true(helper.eventually(function() return not listed(ctx.box, pid) end, 3))
  end)

  it("carries 1 MiB through cat in each of 50 sessions at once, exact", function()
    local payload = bytes(1024 * 1024, 11)
    local tasks = {}
    for i = 1, 50 do
      tasks[i] = sbx.go(function()
        local s <close> = ctx.box.commands:spawn("cat")
        local mine = payload:sub(i) .. payload:sub(1, i - 1)
        s.stdin:write(mine)
        s.stdin:close()
        return s:wait().stdout == mine
      end)
    end
    for i = 1, 50 do assert.is_true(tasks[i]:wait(), "session " .. i) end
  end)
end)

describe("spawn over TCP", function()
  it("connects by a host name too (resolved off the loop)", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url:gsub("127%.0%.0%.1", "localhost"), api_key = server.key }
    local s <close> = box.commands:spawn("cat")
    s.stdin:write("by name\n")
    s.stdin:close()
    assert.are.equal("by name\n", s:wait().stdout)
    box:close()
    server.stop()
  end)
end)

describe("spawn over a connection that is cut", function()
  it("attaches again from the offset reached: output exact, stdin kept", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local s <close> = box.commands:spawn("cat; echo done")
    s.stdin:write("one\n")
    read_until(s, "one\n")
    local port = server.url:match(":(%d+)$")
    if helper.destroy_connections(port) == 0 then
      box:close(); server.stop()
      return pending("ss -K cannot destroy sockets here")
    end
    s.stdin:write("two\n")
    s.stdin:close()
    local r = s:wait()
    assert.are.equal("one\ntwo\ndone\n", r.stdout)
    box:close()
    server.stop()
  end)
end)

describe("spawn with stdin on its way when the connection is cut", function()
  it("sends again what the cuts lost: 4 MiB through cat, every byte once", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    -- cat reads nothing for a while: stdin backs up in sbxd, its socket and the client's
    local s <close> = box.commands:spawn("sleep 1.5; cat", { timeout = 60 })
    local chunk, sent = bytes(64 * 1024), {}
    local writer = sbx.go(function()
      for i = 1, 64 do
        sent[i] = chunk:sub(i) .. chunk:sub(1, i - 1)
        s.stdin:write(sent[i])
      end
      s.stdin:close()
    end)
    -- meanwhile the kernel cuts the connection three times, sbxd's end losing what it
    -- had not read yet
    if helper.cut_repeatedly(server.url:match(":(%d+)$"), 3, 0.4) == 0 then
      box:close(); server.stop()
      return pending("ss -K cannot destroy sockets here")
    end
    writer:wait()
    local r = s:wait()
    local want = table.concat(sent)
    assert.are.equal(#want, #r.stdout)
    assert.is_true(want == r.stdout, "the output differs from the input")
    assert.are.equal(0, r.exit_code)
    box:close()
    server.stop()
  end)
end)

describe("spawn over a connection that is cut while nobody calls the session", function()
  it("attaches again while the host only steps, before sbxd's resume grace is over", function()
    local server = helper.sbxd { args = { "--resume-grace", "1" } }
    local box = sbx.create { url = server.url, api_key = server.key }
    local s <close> = box.commands:spawn("read x; echo got $x; sleep 2; echo tick")
    s.stdin:write("one\n")
    read_until(s, "got one\n")
    if helper.destroy_connections(server.url:match(":(%d+)$")) == 0 then
      box:close(); server.stop()
      return pending("ss -K cannot destroy sockets here")
    end
    -- a host's frames: steps, and no call on the session for longer than the grace
    local t0 = sbx.now()
    while sbx.now() - t0 < 2.5 do sbx.step(0.01) end
    local r = s:wait()
    assert.are.same({ "got one\ntick\n", 0 }, { r.stdout, r.exit_code })
    box:close()
    server.stop()
  end)
end)

describe("spawn over a connection that is cut, then quiet", function()
  it("waits without spinning once attached again", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key, request_timeout = 0.3 }
    local s <close> = box.commands:spawn("read x; sleep 1.5; echo $x")
    local port = server.url:match(":(%d+)$")
    if helper.destroy_connections(port) == 0 then
      box:close(); server.stop()
      return pending("ss -K cannot destroy sockets here")
    end
    s.stdin:write("late\n")
    local cpu, wall = os.clock(), sbx.now()
    assert.are.equal("late\n", s:wait().stdout)
    cpu, wall = os.clock() - cpu, sbx.now() - wall
    assert.is_true(cpu < wall / 2, ("%.2f s of CPU in %.2f s of waiting"):format(cpu, wall))
    box:close()
    server.stop()
  end)
end)

describe("spawn when sbxd goes away", function()
  it("raises SandboxError from wait within a couple of seconds", function()
    local server = helper.sbxd { tcp = false }
    local box = sbx.create { url = server.url, api_key = server.key }
    local s <close> = box.commands:spawn("sleep 100")
    assert.is_true(testing.kill(server.daemon, 9))
    local t0 = sbx.now()
    local err = helper.error_of(s.wait, s)
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    assert.is_true(sbx.now() - t0 < 3, "took " .. (sbx.now() - t0) .. " s")
    server.stop()
  end)

  it("raises SandboxError when sbxd says nothing for 3 keepalives and a second", function()
    local server = helper.sbxd { tcp = false, args = { "--keepalive", "0.5" } }
    local box = sbx.create { url = server.url, api_key = server.key, request_timeout = 1 }
    local s <close> = box.commands:spawn("sleep 100")
    assert.is_true(testing.kill(server.daemon, 19)) -- SIGSTOP: its sockets stay open
    local t0 = sbx.now()
    local err = helper.error_of(s.wait, s)
    local took = sbx.now() - t0
    testing.kill(server.daemon, 18) -- SIGCONT
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    assert.matches("silence", err.message)
    assert.is_true(took >= 2.5 and took < 8, "took " .. took .. " s")
    server.stop()
  end)

  it("over TCP too, once its refused attaches fill the request timeout", function()
    -- over TCP a refused connect may be a proxy restarting: it is tried again
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key, request_timeout = 1 }
    local s <close> = box.commands:spawn("cat")
    s.stdin:write("before\n")
    read_until(s, "before\n")
    assert.is_true(testing.kill(server.daemon, 9))
    local t0 = sbx.now()
    local err = helper.error_of(s.wait, s)
    local took = sbx.now() - t0
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    assert.matches("not within 1 s", err.message)
    assert.is_true(took >= 0.9 and took < 3, "took " .. took .. " s")
    server.stop()
  end)
end)
