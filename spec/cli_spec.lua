-- The sbx command line (bin/sbx), run as a user runs it: a process of its own, with
-- SBX_URL and SBX_API_KEY in its environment, against a real sbxd. What it prints on
-- stdout and stderr and its exit code are what is checked.
local sbx = require "sbx"
local core = require "sbx.core"
local cjson = require "cjson"
local helper = require "helper"

local SBX = "bin/sbx"

-- The child runs under the same sanitizer runtime as this process, if any; the shell
-- and tools around it without (as helper.sh does).
local PLAIN = "unset LD_PRELOAD ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; "

local q = helper.q

local read_file = helper.read_file

--- `env` for the child: SBX_URL and SBX_API_KEY are unset, then `vars` set.
local function env_command(vars)
  return helper.lua_env(vars, { "SBX_URL", "SBX_API_KEY" })
end

local function command_line(args, vars)
  local words = {}
  for i, a in ipairs(args) do words[i] = q(a) end
  return env_command(vars) .. " " .. SBX .. " " .. table.concat(words, " ")
end

local dir = assert(core.mkdtemp("/tmp/sbx-cli-spec-"))

--- Runs sbx to its end: its stdout, its stderr and its exit code (128+N for signal N).
local function run_cli(args, vars, stdin)
  local input = "/dev/null"
  if stdin then
    input = dir .. "/in"
    local f = assert(io.open(input, "wb"))
    f:write(stdin)
    f:close()
  end
  local _, how, code = os.execute(("%s%s <%s >%s/out 2>%s/err"):format(
    PLAIN, command_line(args, vars), input, dir, dir))
  if how == "signal" then code = 128 + code end
  return read_file(dir .. "/out"), read_file(dir .. "/err"), code
end

--- Starts sbx in the background: a job with its pid, its output so far and, once it
-- has ended, its exit code.
local function spawn_cli(args, vars)
  local d = assert(core.mkdtemp("/tmp/sbx-cli-job-"))
  local script = ("(exec %s </dev/null >%s/out 2>%s/err) & echo $! >%s/pid.tmp; mv %s/pid.tmp %s/pid; "
    .. "wait $!; echo $? >%s/rc.tmp; mv %s/rc.tmp %s/rc"):format(command_line(args, vars),
    d, d, d, d, d, d, d, d)
  os.execute(PLAIN .. "sh -c " .. q(script) .. " </dev/null >/dev/null 2>&1 &")
  assert(helper.eventually(function() return read_file(d .. "/pid") end, 10), "the job did not start")
  local job = { pid = tonumber(read_file(d .. "/pid")) }
  function job.out() return read_file(d .. "/out") or "" end
  function job.err() return read_file(d .. "/err") or "" end
  function job.rc()
    assert(helper.eventually(function() return read_file(d .. "/rc") end, 15), "sbx did not exit")
    return tonumber(read_file(d .. "/rc"))
  end
  function job.cleanup()
    if helper.alive(job.pid) then helper.sh("kill -KILL " .. job.pid) end
    helper.sh("rm -rf " .. q(d))
  end
  return job
end

--- Runs sbx on a terminal of its own, COLS x ROWS, doing `steps` (spec/pty_run.py):
-- { output =, status = (exit code, or -N for signal N), attrs = { initial =, final =, ... } }.
local function on_terminal(cols, rows, steps, args, vars)
  local json = helper.sh(("python3 spec/pty_run.py %d %d %s %s"):format(cols, rows,
    q(cjson.encode(steps)), q("exec " .. command_line(args, vars))))
  local r = cjson.decode(json)
  r.output = helper.b64decode(r.output)
  return r
end

local ISO = "%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ"

local function utc(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

describe("sbx, the command line", function()
  local server, env, opts

  setup(function()
    -- a long resume grace: a command that sbx leaves without killing would outlive the
    -- checks below
    server = helper.sbxd { args = { "--resume-grace", "60" } }
    env = { SBX_URL = server.url, SBX_API_KEY = server.key }
    opts = { url = server.url, api_key = server.key }
  end)

  teardown(function()
    server.stop()
  end)

  local function new_box()
    local box = sbx.create(opts)
    finally(function() box:close() end)
    return box
  end

  describe("create, ls, info", function()
    it("create prints an id that ls lists and info shows", function()
      local out, err, code = run_cli({ "create", "--timeout", "120", "--env", "A=1",
        "--metadata", "owner=spec", "--metadata", "b=2" }, env)
      assert.are.same({ "", 0 }, { err, code })
      local id = out:match("^(sbx_%x+)\n$")
      assert.is_truthy(id, out)
      finally(function() sbx.connect(id, opts):kill() end)
      local info = sbx.connect(id, opts):info()
      assert.is_true(math.abs(info.expires_at - info.started_at - 120) < 5)

      out, err, code = run_cli({ "ls" }, env)
      assert.are.same({ "", 0 }, { err, code })
      assert.is_truthy(out:match("^ID%s+STATE%s+STARTED%s+EXPIRES%s+METADATA\n"), out)
      local started, expires = out:match("\n" .. id .. "%s+running%s+(" .. ISO .. ")%s+(" .. ISO
        .. ")%s+b=2,owner=spec\n")
      assert.are.same({ utc(info.started_at), utc(info.expires_at) }, { started, expires })

      out, err, code = run_cli({ "ls", "-q" }, env)
      assert.are.same({ "", 0 }, { err, code })
      assert.is_truthy(("\n" .. out):find("\n" .. id .. "\n", 1, true), out)

      out, err, code = run_cli({ "info", id }, env)
      assert.are.same({ "", 0 }, { err, code })
      assert.are.equal(("id          %s\nstate       running\nstarted_at  %s\nexpires_at  %s\n"
        .. "network     false\nisolation   %s\nmetadata    b=2,owner=spec\n"):format(
        id, utc(info.started_at), utc(info.expires_at), info.isolation), out)

      -- the sandbox's env reaches its commands
      out, err, code = run_cli({ "run", id, "--", "echo $A" }, env)
      assert.are.same({ "1\n", "", 0 }, { out, err, code })
    end)

    it("create --network makes a sandbox with network", function()
      local out, _, code = run_cli({ "create", "--network" }, env)
      assert.are.equal(0, code)
      local id = out:match("^(sbx_%x+)\n$")
      finally(function() sbx.connect(id, opts):kill() end)
      assert.is_true(sbx.connect(id, opts):info().network)
    end)
  end)

  describe("run", function()
    it("writes the command's stdout and stderr, byte for byte, to its own", function()
      local box = new_box()
      local out, err, code = run_cli({ "run", box.id, "--",
        [[printf 'o\000\377\r\n'; printf 'e1\n' >&2; printf tail]] }, env)
      assert.are.same({ "o\0\255\r\ntail", "e1\n", 0 }, { out, err, code })
      -- much output, in many chunks
      out, err, code = run_cli({ "run", box.id, "--", "head -c 300000 /dev/zero | tr '\\0' x" }, env)
      assert.are.same({ ("x"):rep(300000), "", 0 }, { out, err, code })
    end)

    it("exits with the command's exit code, 128+N when signal N ended it", function()
      local box = new_box()
      assert.are.same({ "x\n", "", 3 }, { run_cli({ "run", box.id, "--", "echo x; exit 3" }, env) })
      assert.are.same({ "", "", 143 }, { run_cli({ "run", box.id, "--", "kill -TERM $$" }, env) })
      assert.are.same({ "", "", 137 }, { run_cli({ "run", box.id, "--", "kill -KILL $$" }, env) })
    end)

    it("joins the words of the command with spaces", function()
      local box = new_box()
      assert.are.same({ "a b  c\n", "", 0 },
        { run_cli({ "run", box.id, "--", "echo", "a", "b", "' c'" }, env) })
    end)

    it("gives --env, --cwd, --user and --stdin to the command", function()
      local box = new_box()
      local out, err, code = run_cli({ "run", "--env", "B=2", "--env", "C=x y", "--env", "B=3",
        "--cwd", "/tmp", "--user", "user", box.id, "--", 'echo "$B|$C"; pwd; id -un' }, env)
      assert.are.same({ "3|x y\n/tmp\nuser\n", "", 0 }, { out, err, code })
      out, err, code = run_cli({ "run", "--stdin", box.id, "--", "tr a-z A-Z" }, env, "hello\0\n")
      assert.are.same({ "HELLO\0\n", "", 0 }, { out, err, code })
      -- without --stdin the command's stdin is at EOF
      out, err, code = run_cli({ "run", box.id, "--", "wc -c" }, env, "not sent")
      assert.are.same({ "0\n", "", 0 }, { out, err, code })
    end)

    it("--timeout is an idle timeout: a silent command is ended, a talking one runs on", function()
      local box = new_box()
      local out, err, code = run_cli({ "run", "--timeout", "1", box.id, "--",
        "echo a; sleep 10; echo b" }, env)
      assert.are.same({ "a\n", "sbx: TimeoutError: command sent no output for 1 s\n", 1 }, { out, err, code })
      out, err, code = run_cli({ "run", "--timeout", "1", box.id, "--",
        "for i in 1 2 3 4 5; do echo $i; sleep 0.4; done" }, env)
      assert.are.same({ "1\n2\n3\n4\n5\n", "", 0 }, { out, err, code })
    end)

    it("^C (SIGINT) kills the command and exits 130", function()
      local box = new_box()
      local job = spawn_cli({ "run", box.id, "--", "echo started; sleep 60" }, env)
      finally(job.cleanup)
      assert.is_true(helper.eventually(function() return job.out() == "started\n" end, 10), job.err())
      assert.are.equal(1, #box.commands:list())
      helper.sh("kill -INT " .. job.pid)
      assert.are.equal(130, job.rc())
      -- sbx had it killed: sbxd would have kept it for its resume grace (60 s)
      assert.is_true(helper.eventually(function() return #box.commands:list() == 0 end, 5))
      assert.are.equal("", job.err())
    end)
  end)

  describe("when the reader of its output goes away (| head)", function()
    --- sbx ARGS with its stdout into `head -c 4`: what head printed (less its last "\n",
    -- as helper.sh gives it), sbx's exit code.
    local function into_head(args)
      local rc = dir .. "/rc"
      os.remove(rc)
      local out = helper.sh(("%s(%s </dev/null 2>%s/err; echo $? >%s) | head -c 4"):format(
        PLAIN, command_line(args, env), dir, q(rc)))
      assert(helper.eventually(function() return read_file(rc) end, 15), "sbx did not exit")
      return out, tonumber(read_file(rc))
    end

    it("run and spawn kill the command at once and exit 141, quietly", function()
      local box = new_box()
      for _, args in ipairs { { "run", box.id, "yes" }, { "spawn", box.id, "yes" },
        { "spawn", "-t", box.id, "yes" } } do
        local out, code = into_head(args)
        assert.are.same({ "y\ny", 141, "" }, { (out:gsub("\r", "")), code, read_file(dir .. "/err") })
        -- sbx had it killed: sbxd would have kept it for its resume grace (60 s)
        assert.are.same({}, box.commands:list(), args[2])
      end
    end)

    it("logs -f leaves the command it followed running, and exits 141", function()
      local box = new_box()
      local h = box.commands:run("yes | head -c 1000000; sleep 60", { background = true })
      local out, code = into_head { "logs", "-f", box.id, h.pid }
      assert.are.same({ "y\ny", 141 }, { out, code })
      assert.are.equal(h.pid, box.commands:list()[1].pid)
      h:kill()
    end)
  end)

  describe("spawn", function()
    it("gives its stdin to the command and exits with the command's code", function()
      local box = new_box()
      assert.are.same({ "a\0b\n", "err\n", 5 },
        { run_cli({ "spawn", box.id, "--", "cat; echo err >&2; exit 5" }, env, "a\0b\n") })
    end)

    it("-t without a terminal runs the command on an 80x24 pty", function()
      local box = new_box()
      local out, err, code = run_cli({ "spawn", "-t", box.id, "--", "tty; stty size" }, env)
      assert.are.same({ "", 0 }, { err, code })
      assert.is_truthy(out:match("^/dev/pts/%d+\r\n24 80\r\n$"), out)
    end)

    it("-t on a terminal: raw while the command runs, keys and resizes reach it, restored after", function()
      local box = new_box()
      local r = on_terminal(100, 30, {
        { expect = "ready" }, { attrs = "during" }, { send = "hi\r" }, { expect = "got:hi" },
        { resize = { 120, 40 } }, { send = "\r" }, { expect = "40 120" },
      }, { "spawn", "-t", box.id, "--",
        'stty size; echo ready; read line; echo "got:$line"; read x; stty size' }, env)
      -- the command's own terminal echoes what it reads; sbx's adds nothing (raw)
      assert.are.equal("30 100\r\nready\r\nhi\r\ngot:hi\r\n\r\n40 120\r\n", r.output)
      assert.are.equal(0, r.status)
      assert.is_false(r.attrs.during.icanon or r.attrs.during.echo or r.attrs.during.isig)
      assert.is_true(r.attrs.initial.icanon and r.attrs.initial.echo and r.attrs.initial.isig)
      assert.are.same(r.attrs.initial, r.attrs.final)
    end)

    it("-t: ^C is a key for the command", function()
      local box = new_box()
      local r = on_terminal(80, 24, { { expect = "ready" }, { send = "\3" }, { expect = "got%-int" } },
        { "spawn", "-t", box.id, "--", "trap 'echo got-int; exit 7' INT; echo ready; sleep 60 & wait" }, env)
      assert.are.equal(7, r.status)
      assert.is_truthy(r.output:find("got-int", 1, true), r.output)
      assert.are.same(r.attrs.initial, r.attrs.final)
    end)

    it("-t: the terminal is restored when sbx is ended by SIGTERM, SIGHUP or SIGINT", function()
      local box = new_box()
      for sig, status in pairs { SIGTERM = -15, SIGHUP = -1, SIGINT = 130 } do
        local r = on_terminal(80, 24, { { expect = "ready" }, { attrs = "during" }, { signal = sig } },
          { "spawn", "-t", box.id, "--", "echo ready; sleep 60" }, env)
        assert.are.equal(status, r.status, sig)
        assert.is_false(r.attrs.during.icanon, sig)
        assert.are.same(r.attrs.initial, r.attrs.final, sig)
      end
    end)

    it("without -t, ^C kills the command and exits 130", function()
      local box = new_box()
      local job = spawn_cli({ "spawn", box.id, "--", "echo started; sleep 60" }, env)
      finally(job.cleanup)
      assert.is_true(helper.eventually(function() return job.out() == "started\n" end, 10), job.err())
      helper.sh("kill -INT " .. job.pid)
      assert.are.equal(130, job.rc())
      assert.is_true(helper.eventually(function() return #box.commands:list() == 0 end, 5))
    end)
  end)

  describe("ps and logs", function()
    it("ps lists the running commands", function()
      local box = new_box()
      local h = box.commands:run("sleep 30", { background = true, tag = "spec-ps" })
      local out, err, code = run_cli({ "ps", box.id }, env)
      assert.are.same({ "", 0 }, { err, code })
      assert.is_truthy(out:match("^PID%s+TAG%s+STARTED%s+CMD\n"), out)
      assert.is_truthy(out:match("\n" .. h.pid .. "%s+spec%-ps%s+" .. ISO .. "%s+sleep 30\n"), out)
      h:kill()
    end)

    it("logs replays a finished background command's whole output", function()
      local box = new_box()
      local h = box.commands:run([[printf 'o1\n'; printf 'e1\n' >&2; printf 'o2\000\377'; exit 4]],
        { background = true })
      local err = helper.error_of(h.wait, h)
      assert.are.equal("CommandExitError", err.kind)
      for _, args in ipairs { { "logs", box.id, h.pid }, { "logs", "-f", box.id, h.pid } } do
        assert.are.same({ "o1\no2\0\255", "e1\n", 0 }, { run_cli(args, env) })
      end
    end)

    it("logs without -f prints what a running command wrote and leaves it running", function()
      local box = new_box()
      local h = box.commands:run("echo first; echo err >&2; sleep 60", { background = true })
      assert.is_true(helper.eventually(function() return h.stdout == "first\n" end, 5))
      local t0 = sbx.now()
      assert.are.same({ "first\n", "err\n", 0 }, { run_cli({ "logs", box.id, h.pid }, env) })
      assert.is_true(sbx.now() - t0 < 10, "did not hang")
      assert.are.equal(h.pid, box.commands:list()[1].pid)
      h:kill()
    end)

    it("logs -f follows a running command to its end", function()
      local box = new_box()
      local h = box.commands:run("echo first; sleep 1; echo second", { background = true })
      assert.are.same({ "first\nsecond\n", "", 0 }, { run_cli({ "logs", "-f", box.id, h.pid }, env) })
    end)

    it("logs of an unknown pid is a NotFoundError", function()
      local box = new_box()
      local out, err, code = run_cli({ "logs", box.id, "999" }, env)
      assert.are.same({ "", 1 }, { out, code })
      assert.is_truthy(err:match("^sbx: NotFoundError: [^\n]+\n$"), err)
    end)
  end)

  describe("kill, pause, resume", function()
    it("kill ends the sandbox: ls no longer lists it, info does not find it", function()
      local id = run_cli({ "create" }, env):match("^(sbx_%x+)\n$")
      assert.are.same({ "", "", 0 }, { run_cli({ "kill", id }, env) })
      local out = run_cli({ "ls", "-q" }, env)
      assert.is_nil(out:find(id, 1, true), out)
      assert.are.same({ "", ("sbx: NotFoundError: no sandbox '%s'\n"):format(id), 1 },
        { run_cli({ "info", id }, env) })
    end)

    it("pause and resume change the state info shows; pausing twice leaves it paused", function()
      local box = new_box()
      local function state()
        local out, err, code = run_cli({ "info", box.id }, env)
        assert.are.same({ "", 0 }, { err, code })
        return out:match("\nstate%s+(%a+)\n")
      end
      assert.are.same({ "", "", 0 }, { run_cli({ "pause", box.id }, env) })
      assert.are.equal("paused", state())
      assert.are.same({ "", "", 0 }, { run_cli({ "pause", box.id }, env) })
      assert.are.equal("paused", state())
      assert.are.same({ "", "", 0 }, { run_cli({ "resume", box.id }, env) })
      assert.are.equal("running", state())
    end)
  end)

  describe("errors", function()
    it("an unknown sandbox is a NotFoundError and exit 1", function()
      local id = "sbx_0000000000000000"
      for _, args in ipairs { { "info", id }, { "kill", id }, { "pause", id }, { "resume", id },
        { "ps", id }, { "logs", id, "1" }, { "run", id, "--", "true" }, { "spawn", id, "--", "true" } } do
        assert.are.same({ "", ("sbx: NotFoundError: no sandbox '%s'\n"):format(id), 1 },
          { run_cli(args, env) }, args[1])
      end
    end)

    it("a wrong key is an AuthenticationError and exit 1", function()
      local out, err, code = run_cli({ "ls" }, { SBX_URL = server.url, SBX_API_KEY = "wrong" })
      assert.are.same({ "", 1 }, { out, code })
      assert.is_truthy(err:match("^sbx: AuthenticationError: [^\n]+\n$"), err)
    end)

    it("without SBX_URL, every command but daemon says how to start one and exits 2", function()
      for _, args in ipairs { { "create" }, { "ls" }, { "info", "x" }, { "kill", "x" },
        { "pause", "x" }, { "resume", "x" }, { "run", "x", "true" }, { "spawn", "x", "true" },
        { "ps", "x" },
        { "logs", "x", "1" } } do
        local out, err, code = run_cli(args)
        assert.are.same({ "", 2 }, { out, code }, args[1])
        assert.is_truthy(err:match("^sbx: SBX_URL is not set"), err)
        assert.is_truthy(err:find("\n  sbx daemon\n", 1, true), err)
      end
    end)

    it("a usage error prints the usage and exits 2", function()
      local cases = {
        { { "run", "sbx_1" }, "Usage: sbx run ", "sbx: missing argument 'cmd'\n" },
        { { "create", "--env", "NOEQ" }, "Usage: sbx create ", "sbx: --env expects K=V, got 'NOEQ'\n" },
        { { "run", "--timeout", "soon", "sbx_1", "true" }, "Usage: sbx run ",
          "sbx: --timeout expects a number of seconds, got 'soon'\n" },
        { { "logs", "sbx_1", "one" }, "Usage: sbx logs ",
          "sbx: PID expects a positive whole number, got 'one'\n" },
        { { "frob" }, "Usage: sbx ", "sbx: unknown command 'frob'\n" },
        { {}, "Usage: sbx ", "sbx: a command is required\n" },
      }
      for _, c in ipairs(cases) do
        local out, err, code = run_cli(c[1], env)
        assert.are.same({ "", 2 }, { out, code }, c[3])
        assert.are.equal(c[2], err:sub(1, #c[2]))
        assert.are.equal(c[3], err:sub(-#c[3]))
      end
    end)
  end)

  describe("--help", function()
    it("of sbx and of each command prints its usage and exits 0, with no SBX_URL", function()
      local out, err, code = run_cli({ "--help" })
      assert.are.same({ "", 0 }, { err, code })
      assert.are.equal("Usage: sbx ", out:sub(1, 11))
      for _, name in ipairs { "create", "ls", "info", "kill", "pause", "resume", "run", "spawn", "ps",
        "logs", "daemon" } do
        assert.is_truthy(out:find("\n   " .. name .. " ", 1, true), name)
        local cout, cerr, ccode = run_cli({ name, "--help" })
        assert.are.same({ "", 0 }, { cerr, ccode }, name)
        assert.are.equal("Usage: sbx " .. name .. " ", cout:sub(1, 12 + #name), name)
      end
      out = run_cli({ "run", "--help" })
      assert.is_truthy(out:find("IDLE timeout", 1, true), out)
      assert.are.same({ "sbx " .. sbx.VERSION .. "\n", "", 0 }, { run_cli({ "--version" }) })
    end)
  end)
end)

describe("sbx daemon", function()
  teardown(function()
    helper.sh("rm -rf " .. q(dir))
  end)

  it("starts sbxd, prints its export line once, serves, and stops on SIGINT", function()
    local job = spawn_cli { "daemon", "--listen", "127.0.0.1:0", "--quiet" }
    finally(job.cleanup)
    assert.is_true(helper.eventually(function() return job.out():find("\n") end, 10), job.err())
    local url, key = job.out():match("^export SBX_URL=(http://127%.0%.0%.1:%d+) SBX_API_KEY=(%x+)\n$")
    assert.is_truthy(url, job.out())
    assert.are.equal(64, #key)
    local sbxd_pid = tonumber(job.err():match("sbxd %(pid (%d+)%)"))
    assert.is_truthy(sbxd_pid, job.err())
    -- a client of the module, and the command line
    local box = sbx.create { url = url, api_key = key }
    assert.are.equal("hi\n", box.commands:run("echo hi").stdout)
    local out, err, code = run_cli({ "ls", "-q" }, { SBX_URL = url, SBX_API_KEY = key })
    assert.are.same({ box.id .. "\n", "", 0 }, { out, err, code })
    local _, printed = (job.out() .. job.err()):gsub(key, "")
    assert.are.equal(1, printed)

    helper.sh("kill -INT " .. job.pid)
    assert.are.equal(130, job.rc())
    assert.is_true(helper.eventually(function() return not helper.alive(sbxd_pid) end, 10))
    local gone = helper.error_of(sbx.list, { url = url, api_key = key })
    assert.are.equal("SandboxError", gone and gone.kind)
  end)
end)
