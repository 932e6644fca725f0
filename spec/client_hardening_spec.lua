-- The client used carelessly: methods called with a wrong self, sbxd unreachable over a
-- unix socket, children of the host, and the build's sanitized unit tests.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"
local testing = require "sbx.testing"

describe("a careless client", function()
  local server, opts

  setup(function()
    server = helper.sbxd()
    opts = { url = server.url, api_key = server.key }
  end)

  teardown(function() server.stop() end)

  --- Asserts that fn(...) raises InvalidArgumentError with exactly `message`.
  local function assert_invalid(message, fn, ...)
    local err = helper.error_of(fn, ...)
    assert.are.equal("table", type(err), tostring(err))
    assert.are.equal("InvalidArgumentError", err.kind, tostring(err))
    assert.are.equal(message, err.message)
  end

  it("names the method and its use when a method gets a wrong self", function()
    local box <close> = sbx.create(opts)
    local task = sbx.go(function() end)
    -- every public method: its name, its function, what self must be, how to call it
    local methods = {
      { "info", box.info, "a Sandbox", "box:info()" },
      { "kill", box.kill, "a Sandbox", "box:kill()" },
      { "set_timeout", box.set_timeout, "a Sandbox", "box:set_timeout()" },
      { "close", box.close, "a Sandbox", "box:close()" },
      { "run", box.commands.run, "box.commands", "box.commands:run()" },
      { "run_stream", box.commands.run_stream, "box.commands", "box.commands:run_stream()" },
      { "status", task.status, "a Task", "task:status()" },
      { "wait", task.wait, "a Task", "task:wait()" },
      { "cancel", task.cancel, "a Task", "task:cancel()" },
    }
    local wrong = { 1, "x", true, {}, box, box.commands, task, sbx, setmetatable({}, { __index = box }) }
    for _, m in ipairs(methods) do
      local name, fn, noun, usage = m[1], m[2], m[3], m[4]
      local message = ("%s: self must be %s (use %s)"):format(name, noun, usage)
      assert_invalid(message, fn) -- nil
      for _, self in ipairs(wrong) do
        local right = (noun == "a Sandbox" and self == box) or (noun == "a Task" and self == task)
          or (noun == "box.commands" and self == box.commands)
        if not right then assert_invalid(message, fn, self, "true") end
      end
    end
    assert.are.equal("done", task:status()) -- the right self still works
  end)

  it("refuses every method of a closed sandbox but close", function()
    local box = sbx.create(opts)
    box:close()
    assert_invalid("info: attempt to use a closed sandbox", box.info, box)
    assert_invalid("kill: attempt to use a closed sandbox", box.kill, box)
    assert_invalid("set_timeout: attempt to use a closed sandbox", box.set_timeout, box, 10)
    assert_invalid("run: attempt to use a closed sandbox", box.commands.run, box.commands, "true")
    assert_invalid("run_stream: attempt to use a closed sandbox", box.commands.run_stream,
      box.commands, "true")
    box:close() -- idempotent
  end)

  it("says how to call a module function called with ':'", function()
    assert_invalid("create: called on the module (use sbx.create(...), not sbx:create(...))",
      sbx.create, sbx, opts)
    assert_invalid("connect: called on the module (use sbx.connect(...), not sbx:connect(...))",
      sbx.connect, sbx, "sbx_0", opts)
    assert_invalid("list: called on the module (use sbx.list(...), not sbx:list(...))",
      sbx.list, sbx, opts)
  end)

  it("names the unix socket it cannot reach, never localhost port 80", function()
    local dir = assert(core.mkdtemp("/tmp/sbx-spec-"))
    local url = "unix:" .. dir .. "/sbxd.sock"
    local err = helper.error_of(sbx.create, { url = url })
    assert.are.equal("SandboxError", err.kind)
    assert.are.equal("cannot reach sbxd at " .. url .. ": No such file or directory", err.message)
    -- a socket file that nothing listens on any more: an sbxd killed at that path
    local dead = helper.sbxd { tcp = false }
    testing.kill(dead.daemon, 9)
    assert.is_true(helper.eventually(function() return not helper.alive(dead.pid) end, 5))
    err = helper.error_of(sbx.list, { url = dead.url, api_key = dead.key })
    assert.are.equal("SandboxError", err.kind)
    assert.are.equal("cannot reach sbxd at " .. dead.url .. ": Connection refused", err.message)
    dead.stop()
    os.remove(dir)
  end)

  it("says a refusal with no error of sbxd's in it came from some other server", function()
    -- A real server that is not sbxd at the URL (Python's http.server: POST is 501 there,
    -- with a page of HTML); the wrong port is an easy mistake to make.
    local port = helper.free_port()
    local pid = helper.sh(("cd /tmp && python3 -m http.server -b 127.0.0.1 %d >/dev/null 2>&1 & echo $!")
      :format(port))
    assert.is_true(helper.eventually(function()
      return helper.sh(("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/"):format(port)) == "200"
    end, 10), "http.server answers")
    local err = helper.error_of(sbx.create, { url = "http://127.0.0.1:" .. port, api_key = "k" })
    os.execute("kill " .. pid)
    assert.are.equal(501, err and err.status, tostring(err))
    assert.matches("^HTTP 501 with no error of sbxd's in the answer %(is the URL sbxd's%?%): <!DOCTYPE HTML",
      err.message)
    assert.is_nil(err.message:find("\n"), "the page's lines are one line")
  end)

  it("names the unix socket when a run cannot reach sbxd", function()
    local other = helper.sbxd { tcp = false }
    local box = sbx.create { url = other.url, api_key = other.key }
    testing.kill(other.daemon, 9)
    assert.is_true(helper.eventually(function() return not helper.alive(other.pid) end, 5))
    local err = helper.error_of(box.commands.run, box.commands, "true")
    assert.are.equal("SandboxError", err.kind)
    -- A new connection is refused; one curl kept from the create may still look alive
    -- when it is taken, and is reset instead. Either message names the socket.
    local refused = "cannot reach sbxd at " .. other.url .. ": Connection refused"
    local reset = "connection to sbxd at " .. other.url .. " failed: Recv failure: Connection reset by peer"
    assert.is_true(err.message == refused or err.message == reset, err.message)
    assert.are.equal("SandboxError", helper.error_of(box.close, box).kind)
    other.stop()
  end)

  -- Fills sbxd's listen queue: sbxd stopped (SIGSTOP) accepts nothing, and raw unix
  -- connections (LuaSocket: a fault a normal client does not make) take every place of
  -- its backlog (SOMAXCONN). Returns a function that closes them.
  local function fill_listen_queue(path)
    local unix = require "socket.unix"
    local conns = {}
    for _ = 1, 5000 do
      local c = unix.stream()
      c:settimeout(0)
      if not c:connect(path) then c:close() break end
      conns[#conns + 1] = c
    end
    assert.is_true(#conns >= 128, "the listen queue took " .. #conns)
    return function() for _, c in ipairs(conns) do c:close() end end
  end

  -- The box's first request holds the connection curl keeps for sbxd (sbxd is stopped:
  -- it never answers), so every other request needs a new connection.
  local function occupy_connection(box)
    local t = sbx.go(function() return box.commands:run("echo first").stdout end)
    sbx.step(0.05)
    return t
  end

  it("sends a request again while sbxd's listen queue is full, until it is taken", function()
    local other = helper.sbxd { tcp = false }
    local box = sbx.create { url = other.url, api_key = other.key }
    testing.kill(other.daemon, 19) -- SIGSTOP
    local release = fill_listen_queue(other.url:match("^unix:(.+)$"))
    local first = occupy_connection(box)
    local t = sbx.go(function() return box.commands:run("echo through").stdout end)
    local i = sbx.go(function() return box:info().id end)
    local t0 = sbx.now()
    while sbx.now() < t0 + 0.5 do sbx.step(0.05) end
    assert.are.equal("running", t:status(), "the run gave up while the queue was full")
    assert.are.equal("running", i:status(), "info gave up while the queue was full")
    release() -- the raw connections go: sbxd takes the rest once it runs again
    testing.kill(other.daemon, 18) -- SIGCONT
    assert.are.equal("through\n", t:wait())
    assert.are.equal(box.id, i:wait())
    assert.are.equal("first\n", first:wait())
    box:close()
    other.stop()
  end)

  it("raises SandboxError naming the full listen queue once request_timeout has passed", function()
    local other = helper.sbxd { tcp = false }
    local box = sbx.create { url = other.url, api_key = other.key }
    -- the calls under test through a handle with a short request_timeout; the box is
    -- killed after through its own, which gives sbxd time to drain its queue first
    local short = sbx.connect(box.id, { url = other.url, api_key = other.key, request_timeout = 0.5 })
    testing.kill(other.daemon, 19)
    local release = fill_listen_queue(other.url:match("^unix:(.+)$"))
    local first = occupy_connection(short)
    local t0 = sbx.now()
    local err = helper.error_of(short.commands.run, short.commands, "true")
    local took = sbx.now() - t0
    local info_err = helper.error_of(short.info, short)
    release()
    testing.kill(other.daemon, 18)
    for _, e in ipairs { err, info_err } do
      assert.are.equal("SandboxError", e and e.kind, tostring(e))
      assert.are.equal("cannot reach sbxd at " .. other.url .. ": its listen queue is full", e.message)
      assert.is_true(e.busy)
    end
    assert.is_true(took >= 0.2 and took < 3, ("gave up after %.2f s"):format(took))
    first:cancel()
    box:close()
    other.stop()
  end)

  it("refuses a url that is not one, before any request, and shows no password", function()
    local form = "must be http(s)://HOST[:PORT][/PATH] or unix:/PATH"
    for _, case in ipairs {
      { "localhost:7070", form }, { "http://", form }, { "unix:", form }, { "ftp://x", form },
      { " http://127.0.0.1:7070", form }, { "http://a b:1", form }, { "http://h:7x", form },
      { "http://127.0.0.1:99999", "has a port outside 1..65535" },
      { "http://127.0.0.1:0", "has a port outside 1..65535" },
      { "http://127.0.0.1:1/sbx?x=1", "must not have a query or a fragment" },
      { "http://127.0.0.1:1#top", "must not have a query or a fragment" },
    } do
      assert_invalid(("url %q %s"):format(case[1], case[2]), sbx.create, { url = case[1], api_key = "k" })
    end
    assert_invalid("url must not hold a user or password: give sbxd's key as api_key",
      sbx.list, { url = "http://me:s3cret@127.0.0.1:1", api_key = "k" })
  end)

  it("names the route sbxd does not have when a url's path is wrong", function()
    -- (a proxy's path given with sbxd's own address, say)
    local err = helper.error_of(sbx.create, { url = server.url .. "/sbx", api_key = server.key })
    assert.are.same({ "NotFoundError", "no such route: POST /sbx/sandboxes", 404 },
      { err and err.kind, err and err.message, err and err.status })
  end)

  it("takes a url's scheme in any case, with a run and a session", function()
    local upper = { url = server.url:gsub("^http:", "HTTP:"), api_key = server.key }
    local box <close> = sbx.create(upper)
    assert.are.equal("a\n", box.commands:run("echo a").stdout)
    local s <close> = box.commands:spawn("echo b")
    assert.are.equal("b\n", s:wait().stdout)
  end)

  it("leaves no connection to sbxd open in a child the host starts", function()
    -- a child that held one would keep it open after the client let it go, and sbxd
    -- would not see its reader go
    local box <close> = sbx.create(opts)
    local run = sbx.go(function() return box.commands:run("sleep 1; echo done").stdout end)
    local s <close> = box.commands:spawn("cat")
    s.stdin:write("x")
    for _ = 1, 20 do sbx.step(0.01) end
    local addr = server.url:match("^http://(.+)$")
    -- ss, run by io.popen through sh, lists the connections to sbxd and who holds them
    local held = helper.sh("ss -tnpH dst " .. addr)
    assert.is_truthy(held:find('"lua5.4"', 1, true), "no connection to sbxd in flight: " .. held)
    assert.is_falsy(held:find('"ss"', 1, true) or held:find('"sh"', 1, true), held)
    assert.are.equal("done\n", run:wait())
  end)

  it("leaves none of its descriptors open in a child the host starts", function()
    -- A host of its own (a Lua process): the descriptors a child of it holds, before it
    -- loads sbx and after it used it (a run, a session open), are the same.
    local script = [[
      local function child_fds()
        local p = io.popen("ls /proc/$$/fd")
        local fds = p:read("a"):gsub("%s+", " ")
        p:close()
        return fds
      end
      local before = child_fds()
      local sbx = require "sbx"
      local box <close> = sbx.create() -- SBX_URL, SBX_API_KEY
      box.commands:run("true")
      local s <close> = box.commands:spawn("cat")
      s.stdin:write("x")
      print(before)
      print(child_fds())
    ]]
    local env = helper.lua_env { SBX_URL = server.url, SBX_API_KEY = server.key }
    local out = helper.sh(("%s lua5.4 -e %s 2>&1"):format(env, helper.q(script)))
    local before, after = out:match("^([^\n]*)\n([^\n]*)$")
    assert.is_not_nil(before, out)
    assert.are.equal(before, after)
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
