-- commands:run against a real sbxd over TCP.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"
local testing = require "sbx.testing"

describe("commands:run", function()
  local server, box

  setup(function()
    server = helper.sbxd()
    box = sbx.create { url = server.url, api_key = server.key, env = { BOX = "box", SHARED = "box" } }
  end)

  teardown(function()
    box:close()
    server.stop()
  end)

  it("returns stdout, stderr and the exit code exactly", function()
    local r = box.commands:run("echo hi; echo oops >&2; exit 3")
    assert.are.equal("hi\n", r.stdout)
    assert.are.equal("oops\n", r.stderr)
    assert.are.equal(3, r.exit_code)
    assert.is_nil(r.error)
    assert.is_true(math.type(r.pid) == "integer" and r.pid > 0)
  end)

  it("does not raise on a non-zero exit", function()
    local r = box.commands:run("exit 42")
    assert.are.equal(42, r.exit_code)
    assert.are.equal("", r.stdout)
  end)

  it("reports a command killed by a signal", function()
    local r = box.commands:run("kill -9 $$")
    assert.are.equal(137, r.exit_code)
    assert.are.equal("signal: SIGKILL", r.error)
  end)

  -- The standard signals' (1..31) bits of a /proc status mask; glibc keeps 32 and 33 for itself.
  local function standard_bits(mask) return mask and ("%08x"):format(tonumber(mask, 16) & 0x7fffffff) end

  it("starts a command in its own session, with no signal blocked or ignored", function()
    -- sbxd itself ignores SIGPIPE and catches SIGCHLD/SIGTERM/SIGINT: none of it may leak.
    -- The status is read by the shell itself: dash blocks every signal around its own
    -- vfork, so a child (grep) could read the file inside that window.
    local r = box.commands:run("while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k $v\";; "
      .. "esac; done < /proc/$$/status; ps -o sid= -p $$; echo $$")
    local blk, ign, sid, pid = r.stdout:match("SigBlk:%s*(%x+)\nSigIgn:%s*(%x+)\n%s*(%d+)\n(%d+)\n")
    assert.are.equal("00000000", standard_bits(blk))
    assert.are.equal("00000000", standard_bits(ign))
    assert.are.equal(pid, sid)
    assert.are.equal("y\ny\n", box.commands:run("yes | head -n 2").stdout) -- SIGPIPE ends yes
  end)

  -- Runs fn(box) against an sbxd of its own that `shell` (a shell command line ending in
  -- the word that execs sbxd's command line) starts: how sbxd was started is under test.
  local function with_sbxd_started_by(shell, fn)
    local key = "k" .. core.random_hex(8)
    local f = assert(io.popen(("unset LD_PRELOAD; echo $$; %s %s --listen 127.0.0.1:0 --api-key %s "
      .. "--ready-fd 1 --quiet"):format(shell, helper.SBXD, key)))
    local pid = f:read("l")
    local addr = assert(f:read("l"):match("^ready (%S+)"))
    local ok, err = pcall(function()
      local own <close> = sbx.create { url = "http://" .. addr, api_key = key }
      fn(own, pid)
    end)
    helper.sh("kill " .. pid)
    f:close()
    assert(ok, err)
  end

  it("starts every command with the CPU scheduling policy sbxd was started with", function()
    -- sbxd runs as SCHED_BATCH while a command runs alone (docs/PROTOCOL.md): a command
    -- must not inherit that, alone or not. Started as SCHED_BATCH, its commands are too.
    local policy = "chrt -p $$ | sed -n 's/.*policy: //p'"
    assert.are.equal("SCHED_OTHER\n", box.commands:run(policy).stdout)
    local other = sbx.go(function() return box.commands:run("sleep 0.3; " .. policy).stdout end)
    sbx.step(0.1)
    assert.are.equal("SCHED_OTHER\n", box.commands:run(policy).stdout)
    assert.are.equal("SCHED_OTHER\n", other:wait())
    with_sbxd_started_by("exec chrt -b 0", function(batch)
      assert.are.equal("SCHED_BATCH\n", batch.commands:run(policy).stdout)
    end)
  end)

  it("does not pass on signals that sbxd itself inherited ignored", function()
    -- sbxd started the way `nohup` would start it, with SIGHUP and SIGUSR1 ignored, and
    -- SIGCHLD too: ignored, it would have the kernel reap every command before sbxd
    -- learns its exit status.
    with_sbxd_started_by("trap '' HUP USR1; exec env --ignore-signal=CHLD", function(other, sbxd_pid)
      local bounded = { timeout = 2, request_timeout = 3 } -- an exit never seen fails, not hangs
      local out = other.commands:run("grep '^SigIgn' /proc/$$/status", bounded)
      local mine = out.stdout:match("SigIgn:%s*(%x+)\n")
      local parent = helper.sh("grep '^SigIgn' /proc/" .. sbxd_pid .. "/status"):match("SigIgn:%s*(%x+)")
      assert.are.equal("00000000", standard_bits(mine))
      assert.are.equal("00001201", standard_bits(parent)) -- sbxd: HUP, PIPE, USR1
      assert.are.equal(3, other.commands:run("exit 3", bounded).exit_code)
      assert.are.equal(0, other.commands:run("sleep 0.2 & exec 1>&- 2>&-; wait", bounded).exit_code)
    end)
  end)

  it("keeps binary output exact: NUL, 0xFF, CR, invalid UTF-8", function()
    local r = box.commands:run([[printf 'a\000b\377\r\n\300\200z'; printf '\000\376' >&2]])
    assert.are.equal("a\0b\255\r\n\192\128z", r.stdout)
    assert.are.equal("\0\254", r.stderr)
  end)

  it("delivers 8 MB of output exactly", function()
    local r = box.commands:run("head -c 8000000 /dev/urandom > blob; cat blob; sha256sum blob >&2")
    assert.are.equal(8000000, #r.stdout)
    local hash = r.stderr:match("^(%x+)")
    local tmp = os.tmpname()
    local out = assert(io.open(tmp, "wb"))
    out:write(r.stdout)
    out:close()
    assert.are.equal(hash, helper.sh("sha256sum " .. tmp):match("^(%x+)"))
    os.remove(tmp)
  end)

  it("collects each run's output exactly when runs follow one another", function()
    -- the client keeps the memory a large output was collected in for the next one:
    -- a smaller output after a larger one, and a larger after, are exactly their own
    for _, n in ipairs { 3 * 1048576, 2 * 1048576 + 7, 5 * 1048576 } do
      local byte = string.char(65 + n % 26)
      local r = box.commands:run(("head -c %d /dev/zero | tr '\\0' '%s'"):format(n, byte))
      assert.are.equal(n, #r.stdout)
      assert.are.equal(string.rep(byte, n), r.stdout)
      r = nil -- luacheck: ignore
      collectgarbage()
      sbx.step(0) -- the buffer given back at a step
    end
  end)

  it("hands callbacks output in strings of at most 64 KiB, exact and in order", function()
    -- sbxd sends output in frames of up to 1 MiB; a callback gets each in pieces
    local parts, largest = {}, 0
    local r = box.commands:run("head -c 6000000 /dev/urandom > blob6; cat blob6; sha256sum blob6 >&2",
      { on_stdout = function(chunk)
        parts[#parts + 1] = chunk
        if #chunk > largest then largest = #chunk end
      end })
    local got = table.concat(parts)
    assert.are.equal(6000000, #got)
    assert.are.equal(r.stdout, got)
    assert.is_true(largest <= 65536, "a chunk of " .. largest .. " bytes")
    local tmp = os.tmpname()
    local out = assert(io.open(tmp, "wb"))
    out:write(got)
    out:close()
    assert.are.equal(r.stderr:match("^(%x+)"), helper.sh("sha256sum " .. tmp):match("^(%x+)"))
    os.remove(tmp)
  end)

  it("keeps many small writes of both streams exact, however sbxd groups them", function()
    -- sbxd sends as many events a write as fit (the end's room kept free): pieces of
    -- both streams in a row fill its writes to the edge in every way.
    local cmd = [[i=0; while [ $i -lt 400 ]; do printf '%0*d' $((i % 97 + 400)) $i;
      printf '%0*d' $((i % 31 + 200)) $i >&2; i=$((i+1)); done; echo end]]
    local function padded(i, width) return ("0"):rep(width - #tostring(i)) .. i end
    local out, err = {}, {}
    for i = 0, 399 do
      out[#out + 1] = padded(i, i % 97 + 400)
      err[#err + 1] = padded(i, i % 31 + 200)
    end
    for _ = 1, 3 do
      local r = box.commands:run(cmd)
      assert.are.equal(table.concat(out) .. "end\n", r.stdout)
      assert.are.equal(table.concat(err), r.stderr)
      assert.are.equal(0, r.exit_code)
    end
  end)

  it("writes stdin with NUL bytes, then EOF", function()
    local r = box.commands:run("od -An -tx1 -v; echo done", { stdin = "a\0b\0\n" })
    assert.are.equal(" 61 00 62 00 0a\ndone\n", r.stdout)
  end)

  it("writes a stdin of megabytes exactly", function()
    -- Its request body (base64 in JSON) is over curl's 1 MB threshold for asking the
    -- server to continue first; sbx tells curl not to ask.
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    local input = table.concat(bytes):rep(12 * 1024) -- 3 MiB, every byte value
    local r = box.commands:run("cat", { stdin = input })
    assert.are.equal(#input, #r.stdout)
    assert.is_true(r.stdout == input, "the bytes differ")
  end)

  it("has stdin at EOF when none is given", function()
    local r = box.commands:run("cat; echo end")
    assert.are.equal("end\n", r.stdout)
  end)

  it("runs in the sandbox's home by default and in cwd when given", function()
    local home = box.commands:run("pwd").stdout
    assert.are.equal(box.commands:run("echo $HOME").stdout, home)
    assert.are.equal("/tmp\n", box.commands:run("pwd", { cwd = "/tmp" }).stdout)
  end)

  it("refuses a cwd that does not exist or is not a directory, and runs nothing", function()
    local marker = "/home/user/marker-" .. core.random_hex(4) -- in the sandbox, where it would run
    for _, cwd in ipairs { "/no/such/dir", "/etc/passwd" } do
      local err = helper.error_of(box.commands.run, box.commands, "touch " .. marker, { cwd = cwd })
      assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
      assert.are.equal(400, err.status)
      assert.are.equal("cwd: no such directory '" .. cwd .. "'", err.message)
    end
    local seen = box.commands:run("test -e " .. marker .. " && echo ran || echo absent").stdout
    assert.are.equal("absent\n", seen)
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
  end)

  it("merges the command env over the sandbox env", function()
    local env = { SHARED = "cmd", SPACES = "a b  c", QUOTES = [['"$x`]], EQ = "k=v=w", EMPTY = "" }
    local r = box.commands:run(
      [[printf '%s|%s|%s|%s|%s|%s|%s' "$BOX" "$SHARED" "$SPACES" "$QUOTES" "$EQ" "$EMPTY" "${EMPTY-unset}"]],
      { env = env })
    assert.are.equal([[box|cmd|a b  c|'"$x`|k=v=w||]], r.stdout)
  end)

  it("runs a command, cwd and env values of bytes that are not UTF-8, exactly", function()
    box.commands:run("mkdir -p \"$(printf '/tmp/d\\351\\377')\"")
    local r = box.commands:run("printf '%s|%s|' \"$V\" \"$(pwd)\"; printf '\xe9\x80' | od -An -tx1",
      { cwd = "/tmp/d\xe9\xff", env = { V = "\xfe\xc3(", T = "text" } })
    assert.are.equal("\xfe\xc3(|/tmp/d\xe9\xff| e9 80\n", r.stdout)
    assert.are.equal(0, r.exit_code)
    -- the same when streamed, and when a missing cwd of bytes is quoted in the error
    local chunks = {}
    r = box.commands:run("printf '\xff'", { on_stdout = function(c) chunks[#chunks + 1] = c end })
    assert.are.equal("\xff", table.concat(chunks))
    assert.are.equal("\xff", r.stdout)
    local err = helper.error_of(box.commands.run, box.commands, "true", { cwd = "/no/\xe9" })
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
    assert.are.equal("cwd: no such directory '/no/?'", err.message)
  end)

  it("does not leak sbxd's own environment", function()
    local r = box.commands:run("echo ${SBX_SBXD-unset}")
    assert.are.equal("unset\n", r.stdout)
  end)

  it("runs as another user when sbxd is root", function()
    if helper.sh("id -u") ~= "0" then
      local err = helper.error_of(box.commands.run, box.commands, "id -un", { user = "nobody" })
      assert.are.equal("InvalidArgumentError", err.kind)
      return
    end
    assert.are.equal("nobody\n", box.commands:run("id -un", { user = "nobody" }).stdout)
    local err = helper.error_of(box.commands.run, box.commands, "id", { user = "no-such-user-x" })
    assert.are.equal("InvalidArgumentError", err.kind)
    assert.matches("no%-such%-user%-x", err.message)
    -- the forked child reports a failed chdir like the fast path does
    err = helper.error_of(box.commands.run, box.commands, "id", { user = "nobody", cwd = "/no/such/dir" })
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
    assert.are.equal("cwd: no such directory '/no/such/dir'", err.message)
  end)

  it("kills the whole process group at the timeout", function()
    local started = os.time()
    local t0 = require("sbx.core").now()
    local err = helper.error_of(box.commands.run, box.commands,
      "sleep 37.5 & sleep 37.6; echo never", { timeout = 0.5 })
    local elapsed = require("sbx.core").now() - t0
    assert.is_true(sbx.errors.is(err, "TimeoutError"), tostring(err))
    assert.are.equal("TimeoutError", err.kind)
    assert.is_true(elapsed < 1.0, "took " .. elapsed .. " s")
    assert.are.equal("timeout", err.result.error)
    assert.is_true(os.time() - started < 5)
    assert.is_true(helper.eventually(function()
      return #helper.pgrep("sleep 37.[56]") == 0
    end, 1), "a process of the command outlived its timeout")
  end)

  it("raises TimeoutError when the server does not answer within request_timeout", function()
    local other = helper.sbxd()
    local b = sbx.create { url = other.url, api_key = other.key }
    testing.kill(other.daemon, 19) -- SIGSTOP: the socket accepts, nobody answers
    local t0 = require("sbx.core").now()
    local err = helper.error_of(b.commands.run, b.commands, "echo hi", { request_timeout = 0.3 })
    local elapsed = require("sbx.core").now() - t0
    testing.kill(other.daemon, 18) -- SIGCONT
    assert.are.equal("TimeoutError", err and err.kind, tostring(err))
    assert.is_true(elapsed < 1.5, "took " .. elapsed .. " s")
    b:close()
    other.stop()
  end)

  it("raises SandboxError when sbxd goes silent mid-stream, and not while it keeps alive", function()
    -- sbxd speaks at least every --keepalive seconds while it lives (the start event says
    -- how often); three of them and a second without a byte mean it is stopped or gone.
    -- The stream is then attached again, for as long as the request timeout allows.
    local other = helper.sbxd { args = { "--keepalive", "0.2" } }
    local b = sbx.create { url = other.url, api_key = other.key }
    local quiet = b.commands:run("sleep 2; echo awake") -- silent for 2 s, kept alive
    assert.are.equal("awake\n", quiet.stdout)
    local t = sbx.go(function() return b.commands:run("sleep 30.4711", { request_timeout = 2 }) end)
    assert.is_true(helper.eventually(function()
      return helper.sh("pgrep -f '[s]leep 30.4711' || true") ~= ""
    end, 3))
    testing.kill(other.daemon, 19) -- SIGSTOP: the connection stays open, nothing comes
    local t0 = sbx.now()
    while t:status() == "running" and sbx.now() < t0 + 10 do sbx.step(0.05) end
    local elapsed = sbx.now() - t0
    testing.kill(other.daemon, 18) -- SIGCONT
    assert.are.equal("failed", t:status(), "still waiting after " .. elapsed .. " s")
    local err = helper.error_of(t.wait, t)
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    assert.matches("could not be resumed within 2 s", err.message)
    assert.matches("stopped or gone", err.message)
    assert.is_true(elapsed < 8, "took " .. elapsed .. " s")
    b:close()
    other.stop()
  end)

  describe("argument checks happen before any request", function()
    -- A sandbox object whose server is stopped: a request would hang and time out, so an
    -- InvalidArgumentError proves nothing was sent.
    local stopped, b
    setup(function()
      stopped = helper.sbxd()
      b = sbx.create { url = stopped.url, api_key = stopped.key, request_timeout = 0.2 }
      testing.kill(stopped.daemon, 19)
    end)
    teardown(function()
      testing.kill(stopped.daemon, 18)
      b:close()
      stopped.stop()
    end)

    local cases = {
      { "a non-string command", 42, nil, "cmd" },
      { "an empty command", "", nil, "cmd" },
      { "options that are not a table", "true", "x", "options" },
      { "an unknown option", "true", { cdw = "/" }, "cdw" },
      { "a negative timeout", "true", { timeout = -1 }, "timeout" },
      { "a NaN timeout", "true", { timeout = 0 / 0 }, "timeout" },
      { "a string timeout", "true", { timeout = "5" }, "timeout" },
      { "a negative request_timeout", "true", { request_timeout = -0.5 }, "request_timeout" },
      { "env that is not a map", "true", { env = { "A=1" } }, "env" },
      { "an env value that is not a string", "true", { env = { A = 1 } }, "env" },
      { "an env name with '='", "true", { env = { ["A=B"] = "1" } }, "env" },
      -- names are text (JSON): bytes that are not UTF-8 cannot be one
      { "an env name that is not UTF-8", "true", { env = { ["A\xe9"] = "1" } },
        'invalid variable name "A\\xe9"' },
      { "a user that is not UTF-8", "true", { user = "r\xff" }, 'must be UTF-8 text, not "r\\xff"' },
      { "a tag that is not UTF-8", "true", { tag = "\xc3" }, "tag' must be UTF-8 text" },
      { "stdin that is not a string", "true", { stdin = 12 }, "stdin" },
      { "cwd that is not a string", "true", { cwd = true }, "cwd" },
      { "user that is not a string", "true", { user = 0 }, "user" },
      { "on_stdout that is not a function", "true", { on_stdout = "x" }, "on_stdout" },
      -- an exec's arguments, a path and a name are C strings: a NUL would cut them short
      { "a command with a NUL byte", "echo a\0b", nil, "cmd must not hold a NUL byte" },
      { "a cwd with a NUL byte", "true", { cwd = "/tmp\0/x" }, "cwd' must not hold a NUL byte" },
      { "a user with a NUL byte", "true", { user = "root\0" }, "user' must not hold a NUL byte" },
      { "an env value with a NUL byte", "true", { env = { A = "x\0y" } },
        'env\' has a NUL byte in the value of "A"' },
      { "a tag with a NUL byte", "true", { tag = "t\0" }, "tag' must not hold a NUL byte" },
    }
    for _, case in ipairs(cases) do
      it("rejects " .. case[1], function()
        local err = helper.error_of(b.commands.run, b.commands, case[2], case[3])
        assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
        assert.matches(case[4], err.message, 1, true)
        assert.matches("^run: ", err.message)
      end)
    end
  end)
end)
