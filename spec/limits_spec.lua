-- Limits, on a real sbxd: timeouts of any size, the descriptors a command gets, the sizes
-- execve takes, a relative cwd, the caps on sandboxes and processes, and sbxd running out
-- of file descriptors.
local sbx = require "sbx"
local core = require "sbx.core"
local socket = require "socket"
local helper = require "helper"

local KIB = 1024
local MAX_ARG_STRLEN = 128 * KIB -- csrc/common/protocol.h: one string, its NUL included

local function opts_for(server, extra)
  local o = { url = server.url, api_key = server.key }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function is_root()
  return helper.sh("id -u") == "0"
end

--- The descriptor numbers a process holds, in order.
local function fds_of(pid)
  local fds = {}
  for n in helper.sh("ls /proc/" .. pid .. "/fd"):gmatch("%d+") do fds[#fds + 1] = tonumber(n) end
  table.sort(fds)
  return fds
end

--- Asserts that `fn` raises an error of `kind` with `status` whose message contains `text`.
local function assert_refused(kind, status, text, fn, ...)
  local err = helper.error_of(fn, ...)
  assert.are.equal(kind, err and err.kind, tostring(err))
  assert.are.equal(status, err.status)
  assert.matches(text, err.message, 1, true)
  return err
end

describe("timeouts", function()
  local server, box

  setup(function()
    server = helper.sbxd()
    box = sbx.create(opts_for(server))
  end)

  teardown(function()
    box:close()
    server.stop()
  end)

  it("let a command with a huge timeout run to its end", function()
    for _, t in ipairs { 2e16, 1e17, 1e300 } do
      local r = box.commands:run("sleep 0.1; echo ok", { timeout = t })
      assert.are.equal("ok\n", r.stdout, "timeout " .. t)
      assert.is_nil(r.error)
    end
  end)

  it("take a zero command timeout as no limit", function()
    assert.are.equal("ok\n", box.commands:run("sleep 0.1; echo ok", { timeout = 0 }).stdout)
  end)

  it("keep a sandbox created with a huge lifetime", function()
    local huge <close> = sbx.create(opts_for(server, { timeout = 2e16 }))
    assert.are.equal("ok\n", huge.commands:run("sleep 0.1; echo ok").stdout)
    local info = huge:info()
    assert.are.equal("running", info.state)
    -- clamped to what a timer holds (1e15 s), and finite
    assert.is_true(info.expires_at > info.started_at + 1e14 and info.expires_at < math.huge,
      tostring(info.expires_at))
  end)

  it("keep a sandbox whose lifetime is set huge", function()
    local b <close> = sbx.create(opts_for(server))
    b:set_timeout(1e17)
    assert.are.equal("ok\n", b.commands:run("sleep 0.1; echo ok").stdout)
    local info = b:info()
    assert.is_true(info.expires_at > info.started_at + 1e14 and info.expires_at < math.huge,
      tostring(info.expires_at))
  end)

  it("let a step with a huge timeout wait for I/O instead of returning at once", function()
    -- With a huge keep-alive interval nothing bounds the step but its own timeout: the
    -- client's silence deadline is huge too. sbxd arms its keep-alive timer with it.
    local quiet = helper.sbxd { args = { "--keepalive", "1e300" } }
    local b <close> = sbx.create(opts_for(quiet))
    local t = sbx.go(function() return b.commands:run("sleep 0.3; echo ok").stdout end)
    local steps = 0
    while t:status() == "running" and steps < 100000 do
      sbx.step(1e300)
      steps = steps + 1
    end
    assert.are.equal("ok\n", t:wait())
    -- each step returns on the stream's I/O: a handful, not a spin of thousands
    assert.is_true(steps < 100, steps .. " steps")
    b:close()
    quiet.stop()
  end)

  it("are refused when not a number of seconds the rule allows", function()
    local nan, inf = 0 / 0, math.huge
    for _, t in ipairs { nan, inf, -1 } do
      assert_refused("InvalidArgumentError", nil, "timeout", box.commands.run, box.commands, "true",
        { timeout = t })
      assert_refused("InvalidArgumentError", nil, "request_timeout", box.commands.run, box.commands,
        "true", { request_timeout = t })
      assert_refused("InvalidArgumentError", nil, "timeout", sbx.create, opts_for(server, { timeout = t }))
      assert_refused("InvalidArgumentError", nil, "seconds", box.set_timeout, box, t)
    end
    assert_refused("InvalidArgumentError", nil, "timeout", sbx.create, opts_for(server, { timeout = 0 }))
    assert_refused("InvalidArgumentError", nil, "seconds", box.set_timeout, box, 0)
    -- the message says what was wrong with the value, and what 0 means where it is allowed
    local err = helper.error_of(box.commands.run, box.commands, "true", { timeout = inf })
    assert.are.equal("run: option 'timeout' must be a finite number of seconds >= 0 (0: no limit), not inf",
      err.message)
    err = helper.error_of(box.set_timeout, box, 0 / 0)
    assert.are.equal("set_timeout: seconds must be a finite number of seconds > 0, not nan", err.message)
  end)
end)

describe("a command's descriptors", function()
  -- `; true` keeps the shell from exec'ing ls: the descriptors listed are the shell's, not
  -- those of an ls that holds its own directory open.
  local LIST = "ls /proc/$$/fd; true"

  local function assert_only_stdio(box)
    assert.are.equal("0\n1\n2\n", box.commands:run(LIST).stdout)
    if is_root() then -- the user-switching start
      assert.are.equal("0\n1\n2\n", box.commands:run(LIST, { user = "nobody" }).stdout)
    end
  end

  it("are 0, 1 and 2 only, not the embedding parent's pipe", function()
    -- helper.sbxd starts sbxd as the embedded default does: --parent-fd 3 on a pipe
    local server = helper.sbxd()
    local box <close> = sbx.create(opts_for(server))
    assert.is_true(#fds_of(server.pid) > 3)
    assert_only_stdio(box)
    box:close()
    server.stop()
  end)

  it("are 0, 1 and 2 only, not what the shell that started sbxd had open", function()
    local key = "k" .. core.random_hex(8)
    local f = assert(io.popen(("unset LD_PRELOAD; echo $$; exec 7</etc/hostname; exec %s --listen "
      .. "127.0.0.1:0 --api-key %s --ready-fd 1 --quiet"):format(helper.SBXD, key)))
    local pid = f:read("l")
    local addr = assert(f:read("l"):match("^ready (%S+)"))
    local ok, err = pcall(function()
      assert.are.equal("/etc/hostname", helper.sh("readlink /proc/" .. pid .. "/fd/7"))
      local box <close> = sbx.create { url = "http://" .. addr, api_key = key }
      assert_only_stdio(box)
    end)
    helper.sh("kill " .. pid)
    f:close()
    assert(ok, err)
  end)
end)

describe("execve's bounds", function()
  local server, box

  setup(function()
    server = helper.sbxd()
    box = sbx.create(opts_for(server))
  end)

  teardown(function()
    box:close()
    server.stop()
  end)

  local function refused(field, cmd, env)
    return assert_refused("InvalidArgumentError", 400, "'" .. field .. "'", box.commands.run, box.commands,
      cmd, { env = env })
  end

  it("refuse a cmd over 128 KiB with 400 naming cmd", function()
    local err = refused("cmd", "true #" .. ("x"):rep(200 * KIB))
    assert.matches("too long", err.message, 1, true)
  end)

  it("refuse an env value over 128 KiB with 400 naming env", function()
    local err = refused("env", "true", { BIG = ("x"):rep(200 * KIB) })
    assert.matches("too long", err.message, 1, true)
  end)

  it("refuse env entries that sum past the total with 400 naming env", function()
    local env = {}
    for i = 1, 10 do env["V" .. i] = ("x"):rep(120 * KIB) end
    local err = refused("env", "true", env)
    assert.matches("too big", err.message, 1, true)
  end)

  it("refuse a sandbox env over the bounds, and a command env that passes the total with it", function()
    local big = ("x"):rep(200 * KIB)
    assert_refused("InvalidArgumentError", 400, "'env'", sbx.create,
      opts_for(server, { env = { BIG = big } }))
    local half = {}
    for i = 1, 6 do half["S" .. i] = ("x"):rep(100 * KIB) end
    local b <close> = sbx.create(opts_for(server, { env = half }))
    assert.are.equal("ok\n", b.commands:run("echo ok").stdout)
    local more = {}
    for i = 1, 6 do more["C" .. i] = ("x"):rep(100 * KIB) end
    assert_refused("InvalidArgumentError", 400, "'env'", b.commands.run, b.commands, "true", { env = more })
  end)

  it("run a cmd and an env value just under the bound", function()
    local cmd = "printf ok #"
    cmd = cmd .. ("x"):rep(MAX_ARG_STRLEN - 1 - #cmd)
    assert.are.equal("ok", box.commands:run(cmd).stdout)
    local value = ("v"):rep(MAX_ARG_STRLEN - 1 - #"BIG=")
    local r = box.commands:run('printf %s "${#BIG}"', { env = { BIG = value } })
    assert.are.equal(tostring(#value), r.stdout)
  end)

  it("answer 400 when execve itself finds them too big", function()
    -- with a 1 MiB stack limit, execve takes 256 KiB of arguments: less than sbxd's bounds
    local small = helper.sbxd()
    helper.sh(("prlimit --pid %d --stack=%d"):format(small.pid, 1024 * KIB))
    local b <close> = sbx.create(opts_for(small))
    local env = {}
    for i = 1, 3 do env["V" .. i] = ("x"):rep(100 * KIB) end
    local err = assert_refused("InvalidArgumentError", 400, "too big", b.commands.run, b.commands, "true",
      { env = env })
    assert.matches("'cmd' and 'env'", err.message, 1, true)
    assert.are.equal("ok\n", b.commands:run("echo ok").stdout)
    b:close()
    small.stop()
  end)
end)

describe("a relative cwd", function()
  it("is relative to the sandbox's home", function()
    local server = helper.sbxd()
    local box <close> = sbx.create(opts_for(server))
    local home = box.commands:run("mkdir -p sub/deeper && pwd").stdout:gsub("\n$", "")
    assert.are.equal(home .. "/sub\n", box.commands:run("pwd", { cwd = "sub" }).stdout)
    assert.are.equal(home .. "/sub/deeper\n", box.commands:run("pwd", { cwd = "sub/deeper" }).stdout)
    if is_root() then
      assert.are.equal(home .. "/sub\n", box.commands:run("pwd", { cwd = "sub", user = "nobody" }).stdout)
    end
    local err = assert_refused("InvalidArgumentError", 400, "cwd", box.commands.run, box.commands, "true",
      { cwd = "nosuch" })
    assert.are.equal("cwd: no such directory 'nosuch'", err.message)
    box:close()
    server.stop()
  end)
end)

describe("sbxd's caps", function()
  local server, root

  setup(function()
    root = assert(core.mkdtemp("/tmp/sbx-spec-root-"))
    server = helper.sbxd { args = { "--max-sandboxes", "2", "--max-procs", "2", "--root", root } }
  end)

  teardown(function()
    server.stop()
    helper.sh("rm -rf " .. root)
  end)

  it("are sbxd options, listed by --help, that take a positive count", function()
    local help = "\n" .. helper.sh(helper.SBXD .. " --help")
    for _, opt in ipairs { "max-sandboxes", "max-procs" } do
      assert.matches("\n  %-%-" .. opt:gsub("%-", "%%-") .. " N ", help)
      for _, bad in ipairs { "0", "-1", "x", "1.5", "" } do
        local out = helper.sh(("%s --listen unix:/nonexistent/s --%s '%s' 2>&1; echo status=$?")
          :format(helper.SBXD, opt, bad))
        assert.matches("%-%-" .. opt:gsub("%-", "%%-") .. " must be a positive integer", out)
        assert.matches("status=2$", out)
      end
    end
  end)

  it("refuse a sandbox past --max-sandboxes with 429, until one is gone", function()
    local a = sbx.create(opts_for(server))
    local b <close> = sbx.create(opts_for(server))
    local err = assert_refused("SandboxError", 429, "--max-sandboxes", sbx.create, opts_for(server))
    assert.are.equal("too many sandboxes: at most 2 (--max-sandboxes)", err.message)
    assert.is_true(a:kill())
    local c <close> = sbx.create(opts_for(server))
    assert.are.equal("ok\n", c.commands:run("echo ok").stdout)
    assert.are.equal("ok\n", b.commands:run("echo ok").stdout)
  end)

  it("refuse a process past --max-procs with 429, until one has ended", function()
    local box <close> = sbx.create(opts_for(server))
    local homes = {}
    -- Each prints its directory, then waits there until a file named `go` appears (put
    -- there from the host, where the sandbox's home is under sbxd's root).
    local function start()
      return sbx.go(function()
        return box.commands:run("pwd; while [ ! -e go ]; do sleep 0.02; done", {
          on_stdout = function(chunk) homes[#homes + 1] = chunk:gsub("\n$", "") end,
        })
      end)
    end
    local first, second = start(), start()
    local deadline = core.now() + 10
    while #homes < 2 and core.now() < deadline do sbx.step(0.05) end
    assert.are.equal(2, #homes, "both commands started")
    local err = assert_refused("SandboxError", 429, "--max-procs", box.commands.run, box.commands, "echo no")
    assert.are.equal("too many processes: at most 2 run at once (--max-procs)", err.message)
    assert.are.same({ "/home/user", "/home/user" }, homes)
    assert(io.open(root .. "/" .. box.id .. "/home/go", "w")):close()
    assert.are.equal(0, first:wait().exit_code)
    assert.are.equal(0, second:wait().exit_code)
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
  end)
end)

describe("sbxd out of file descriptors", function()
  it("answers a start with 503 naming descriptors, and serves again once some are free", function()
    local server = helper.sbxd()
    local box <close> = sbx.create(opts_for(server))
    -- the client's connection is open now and kept for the next request: counted below
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
    local held = fds_of(server.pid)
    local limit = #held + 5
    assert.is_true(held[#held] < limit, "no descriptor above the new limit")
    helper.sh(("prlimit --pid %d --nofile=%d:%d"):format(server.pid, limit, limit))
    -- Four idle connections take four of the five free descriptors; a normal client does
    -- not hold connections it does not use, hence raw sockets. One is left: less than a
    -- pipe takes (and enough for a new connection, should the client open one).
    local host, port = server.url:match("^http://([^:]+):(%d+)$")
    local idle = {}
    for i = 1, 4 do
      idle[i] = assert(socket.tcp())
      idle[i]:settimeout(5)
      assert(idle[i]:connect(host, tonumber(port)))
    end
    assert.is_true(helper.eventually(function() return #fds_of(server.pid) == limit - 1 end, 5),
      "sbxd accepted the idle connections")
    local err = assert_refused("SandboxError", 503, "out of file descriptors", box.commands.run,
      box.commands, "echo no")
    assert.matches("pipes", err.message, 1, true)
    for _, s in ipairs(idle) do s:close() end
    assert.is_true(helper.eventually(function() return #fds_of(server.pid) <= #held end, 5),
      "sbxd closed the idle connections")
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
    box:close()
    server.stop()
  end)
end)
