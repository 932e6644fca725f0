-- commands:list() and commands:kill(pid): a sandbox's running processes, by pid.
local sbx = require "sbx"
local helper = require "helper"

describe("process calls", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  --- Starts `cmd` in a task; returns the task once the list shows its process.
  local function running(cmd, run_opts)
    local t = sbx.go(function() return ctx.box.commands:run(cmd, run_opts) end)
    local found
    assert.is_true(helper.eventually(function()
      sbx.step(0)
      for _, p in ipairs(ctx.box.commands:list()) do
        if p.cmd == cmd then found = p end
      end
      return found ~= nil
    end, 5), "the list shows " .. cmd)
    return t, found
  end

  it("lists a running process with its pid, cmd, cwd, user, tag and start, and not once it ended", function()
    local before = os.time()
    local t, p = running("sleep 0.6; echo done", { tag = "build", cwd = "/tmp" })
    assert.is_true(math.type(p.pid) == "integer" and p.pid > 1)
    assert.are.equal("/tmp", p.cwd)
    assert.are.equal("user", p.user)
    assert.are.equal("build", p.tag)
    assert.is_true(p.started_at >= before - 1 and p.started_at <= os.time() + 1)
    local r = t:wait()
    assert.are.equal(p.pid, r.pid)
    assert.are.same({}, ctx.box.commands:list())
  end)

  it("lists the default cwd and user, and no tag", function()
    local t, p = running("sleep 0.3", nil)
    assert.are.equal("/home/user", p.cwd)
    assert.are.equal("user", p.user)
    assert.is_nil(p.tag)
    t:wait()
  end)

  --- Runs `cmd` in a task; returns the task and the list's entry once it shows one.
  local function first_listed(cmd)
    local t = sbx.go(function() return ctx.box.commands:run(cmd) end)
    local found
    assert.is_true(helper.eventually(function()
      sbx.step(0)
      found = ctx.box.commands:list()[1]
      return found ~= nil
    end, 5), "the list shows the command")
    return t, found
  end

  it("lists a long command by its first 4096 bytes", function()
    local cmd = "sleep 0.4 #" .. ("x"):rep(5000)
    local t, found = first_listed(cmd)
    assert.are.equal(cmd:sub(1, 4096), found.cmd)
    t:wait()
  end)

  it("lists a long command of UTF-8 text cut at a character, not inside one", function()
    -- the 4096-byte cut falls inside a 2-byte "é": the one at bytes 4096 and 4097 (11 + 2 * 2042 + 1)
    local cmd = "sleep 0.4 #" .. ("é"):rep(3000)
    local t, found = first_listed(cmd)
    assert.are.equal(cmd:sub(1, 4095), found.cmd)
    t:wait()
  end)

  it("lists a command and cwd of bytes that are not UTF-8 exactly", function()
    ctx.box.commands:run("mkdir -p \"$(printf 'd\\351\\377')\"")
    local cmd = "sleep 0.6 # \xe9\x80\xff"
    local t, p = running(cmd, { cwd = "/home/user/d\xe9\xff" })
    assert.are.equal(cmd, p.cmd)
    assert.are.equal("/home/user/d\xe9\xff", p.cwd)
    t:wait()
  end)

  it("kills a process by pid: true, then false once it is gone", function()
    local t, p = running("sleep 30; echo never")
    assert.is_true(ctx.box.commands:kill(p.pid))
    local r = t:wait()
    assert.are.equal(137, r.exit_code)
    assert.are.equal("signal: SIGKILL", r.error)
    assert.are.equal("", r.stdout)
    assert.is_false(ctx.box.commands:kill(p.pid))
  end)

  it("says false to a kill right behind a kill, and lists the process no more", function()
    -- SIGKILL cannot be survived: once sent, the process no longer runs, reaped or not
    local t, p = running("sleep 30")
    assert.is_true(ctx.box.commands:kill(p.pid))
    assert.is_false(ctx.box.commands:kill(p.pid))
    assert.are.same({}, ctx.box.commands:list())
    assert.are.equal(137, t:wait().exit_code)
  end)

  it("knows no pid of another sandbox, and none that never ran", function()
    local other <close> = sbx.create(ctx.opts)
    local t, p = running("sleep 30")
    assert.is_false(other.commands:kill(p.pid))
    assert.is_false(ctx.box.commands:kill(4000000))
    assert.are.equal(1, #ctx.box.commands:list())
    assert.is_true(ctx.box.commands:kill(p.pid))
    t:wait()
  end)

  it("takes a pid that is a float with a whole value, as Lua's own functions do", function()
    -- a pid kept as JSON comes back a float (lua-cjson decodes every number so)
    local h = ctx.box.commands:run("cat", { background = true })
    local pid = require("cjson").decode(("[%d]"):format(h.pid))[1]
    assert.are.equal("float", math.type(pid))
    ctx.box.commands:send_stdin(pid, "one\n")
    ctx.box.commands:close_stdin(pid)
    assert.are.equal("one\n", ctx.box.commands:connect(pid):wait().stdout)
    local t = running("sleep 30")
    assert.is_true(ctx.box.commands:kill(ctx.box.commands:list()[1].pid + 0.0))
    assert.are.equal(137, t:wait().exit_code)
  end)

  it("knows no pid past any the kernel gives: kill false, the rest NotFoundError", function()
    local c, big = ctx.box.commands, math.maxinteger
    assert.is_false(c:kill(4194305))
    assert.is_false(c:kill(big))
    for _, call in ipairs { { c.send_stdin, c, big, "x" }, { c.close_stdin, c, big } } do
      local err = helper.error_of(table.unpack(call))
      assert.are.equal("NotFoundError", err and err.kind, tostring(err))
      assert.are.equal(("no process %d in sandbox '%s'"):format(big, ctx.box.id), err.message)
    end
    local err = helper.error_of(c.connect(c, 2 ^ 40).wait, c:connect(2 ^ 40))
    assert.are.equal("NotFoundError", err and err.kind, tostring(err))
    assert.are.equal(("no process %d in sandbox '%s'"):format(2 ^ 40, ctx.box.id), err.message)
    -- more digits than any integer holds
    local out = helper.sh(("curl -s -w ' %%{http_code}' -H 'Authorization: Bearer %s' -d '{}' "
      .. "'%s/sandboxes/%s/processes/%s/signal'")
      :format(ctx.server.key, ctx.server.url, ctx.box.id, ("9"):rep(40)))
    assert.are.equal('{"killed":false} 200', out)
  end)

  it("takes a kill by pid with a key (?writer=) once: sent again, it says true again", function()
    local h = ctx.box.commands:run("sleep 30", { background = true })
    local function signal(query)
      return helper.sh(("curl -s -w ' %%{http_code}' -H 'Authorization: Bearer %s' -d '{}' "
        .. "'%s/sandboxes/%s/processes/%d/signal%s'")
        :format(ctx.server.key, ctx.server.url, ctx.box.id, h.pid, query))
    end
    assert.are.equal('{"killed":true} 200', signal("?writer=k1"))
    assert.are.equal(137, helper.error_of(h.wait, h).result.exit_code)
    -- the same call sent again (after a cut) is answered as the first was, by its key
    assert.are.equal('{"killed":true} 200', signal("?writer=k1"))
    -- another call, with another key or none, finds the process gone; a key that killed
    -- nothing is not noted
    assert.are.equal('{"killed":false} 200', signal("?writer=k2"))
    assert.are.equal('{"killed":false} 200', signal("?writer=k2"))
    assert.are.equal('{"killed":false} 200', signal(""))
    for _, q in ipairs { "?writer=", "?writer=a%21", "?writer=" .. ("a"):rep(33), "?writer=a&writer=b",
      "?offset=1", "?key=k1" } do
      assert.matches('^{"error":{"kind":"InvalidArgumentError".* 400$', signal(q), 1, false)
    end
  end)

  it("refuses a pid that is not a positive integer, and a tag that is not a string", function()
    for _, bad in ipairs { 0, -3, 1.5, "12", true } do
      local err = helper.error_of(ctx.box.commands.kill, ctx.box.commands, bad)
      assert.are.equal("InvalidArgumentError", err.kind)
      assert.matches("pid", err.message)
    end
    local err = helper.error_of(ctx.box.commands.run, ctx.box.commands, "true", { tag = 3 })
    assert.are.equal("InvalidArgumentError", err.kind)
    local out = helper.sh(("curl -s -w ' %%{http_code}' -H 'Authorization: Bearer %s' "
      .. "-d '{\"signal\":\"NOPE\"}' %s/sandboxes/%s/processes/5/signal")
      :format(ctx.server.key, ctx.server.url, ctx.box.id))
    assert.are.equal('{"error":{"kind":"InvalidArgumentError","message":"\'signal\' must be a signal number '
      .. 'or name, such as \\"SIGTERM\\""}} 400', out)
  end)
end)
