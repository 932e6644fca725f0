-- The embedded default: no url and no SBX_URL starts a private sbxd that dies with us.
local helper = require "helper"

local LUA = "lua5.4"
-- The child Lua processes run under the same sanitizer runtime as this one, if any.
local ENV = ("LUA_PATH=%q LUA_CPATH=%q SBX_SBXD=%q LD_PRELOAD=%q ASAN_OPTIONS=%q LSAN_OPTIONS=%q"):format(
  package.path, package.cpath, helper.SBXD, os.getenv("LD_PRELOAD") or "",
  os.getenv("ASAN_OPTIONS") or "", os.getenv("LSAN_OPTIONS") or "")

-- Runs a Lua script in a child process in the background; its stdout goes to a file.
local function spawn_script(code)
  local script, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local pid = tonumber(helper.sh(("env -u SBX_URL %s %s %s > %s 2>&1 & echo $!")
    :format(ENV, LUA, script, out)))
  return pid, out, script
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Runs a Lua script in a child process to its end, with `env` ("NAME=value ...") added to
-- its environment; returns its output (stdout and stderr).
local function run_script(code, env)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local out = helper.sh(("env -u SBX_URL %s %s %s %s 2>&1"):format(ENV, env or "", LUA, script))
  os.remove(script)
  return out
end

describe("the embedded sbxd", function()
  it("runs a command with no url at all", function()
    local out = helper.sh(("env -u SBX_URL %s %s -e %q"):format(ENV, LUA,
      'print(require"sbx".create().commands:run("echo hi").stdout)'))
    assert.are.equal("hi\n", out)
  end)

  it("stops with the Lua state and leaves no directory behind", function()
    local pid, out, script = spawn_script([[
      local sbx = require "sbx"
      local box = sbx.create()
      box.commands:run("true")
      local embedded = require "sbx.embedded"
      print(embedded.daemon():pid(), (embedded.endpoint()))
    ]])
    assert.is_true(helper.eventually(function() return not helper.alive(pid) end, 10))
    local sbxd_pid, url = read_file(out):match("^(%d+)%s+(%S+)")
    assert.is_not_nil(sbxd_pid, read_file(out))
    assert.is_false(helper.alive(tonumber(sbxd_pid)))
    local dir = url:match("^unix:(.*)/[^/]+$")
    assert.is_nil(io.open(dir .. "/sbxd.sock"))
    assert.are.equal("gone", helper.sh("test -e " .. dir .. " && echo there || echo gone"))
    os.remove(out)
    os.remove(script)
  end)

  it("leaves no sbxd and no command behind after kill -9 of the Lua process", function()
    -- the sandbox's processes go too: one the command left in a session of its own as well
    local pid, out, script = spawn_script([[
      local sbx = require "sbx"
      local box = sbx.create()
      print(require("sbx.embedded").daemon():pid())
      io.stdout:flush()
      box.commands:run("setsid sleep 73.26 > /dev/null 2>&1 & sleep 73.25")
    ]])
    assert.is_true(helper.eventually(function()
      return read_file(out):match("^%d+") and #helper.pgrep("sleep 73.25") > 0
        and #helper.pgrep("sleep 73.26") > 0
    end, 10), read_file(out))
    local sbxd_pid = tonumber(read_file(out):match("^(%d+)"))
    assert.is_true(helper.alive(sbxd_pid))
    os.execute("kill -9 " .. pid)
    assert.is_true(helper.eventually(function()
      return not helper.alive(sbxd_pid) and #helper.pgrep("sleep 73.2") == 0
    end, 5), "sbxd or a process of its sandbox outlived the Lua process")
    os.remove(out)
    os.remove(script)
  end)

  it("is started again, at the same socket, when it died", function()
    -- Each call below is the first after a kill -9 of sbxd: a run and an info of a box of
    -- the dead sbxd (the fresh one knows none: NotFoundError), then a create and a run.
    -- A killed sbxd leaves its root directory behind: under a TMPDIR of the spec's own.
    local tmpdir = assert(require("sbx.core").mkdtemp("/tmp/sbx-spec-"))
    local out = run_script([[
      local sbx = require "sbx"
      local embedded = require "sbx.embedded"
      local helper = require "helper"
      local function kill_sbxd()
        local pid = embedded.daemon():pid()
        helper.sh("kill -9 " .. pid)
        assert(helper.eventually(function() return not helper.alive(pid) end, 5))
      end
      local function kind_of(fn, ...)
        local err = helper.error_of(fn, ...)
        return type(err) == "table" and err.kind or tostring(err)
      end
      local old = sbx.create()
      local url, key = embedded.endpoint()
      local first = embedded.daemon():pid()
      kill_sbxd()
      print(kind_of(old.commands.run, old.commands, "true"))
      kill_sbxd()
      print(kind_of(old.info, old))
      kill_sbxd()
      local box = sbx.create()
      io.write(box.commands:run("echo fresh").stdout)
      local url2, key2 = embedded.endpoint()
      print(url2 == url, key2 == key, embedded.daemon():pid() ~= first)
    ]], "TMPDIR=" .. tmpdir)
    helper.sh("rm -rf " .. tmpdir)
    assert.are.equal("NotFoundError\nNotFoundError\nfresh\ntrue\ttrue\ttrue", out)
  end)

  it("that dies ends the run, wait and session under way at once, with SandboxError", function()
    -- Its sandboxes died with it: no attach could find them again, so the streams do not
    -- try for their request timeout (30 s) first.
    local tmpdir = assert(require("sbx.core").mkdtemp("/tmp/sbx-spec-"))
    local out = run_script([[
      local sbx = require "sbx"
      local embedded = require "sbx.embedded"
      local helper = require "helper"
      local box = sbx.create()
      local h = box.commands:run("sleep 60", { background = true })
      local s = box.commands:spawn("sleep 60")
      local calls = {
        sbx.go(function() return box.commands:run("sleep 60") end),
        sbx.go(function() return box.commands:run("sleep 60", { on_stdout = print }) end),
        sbx.go(function() return h:wait() end),
        sbx.go(function() return s:wait() end),
      }
      sbx.sleep(0.2)
      local t0 = sbx.now()
      helper.sh("kill -9 " .. embedded.daemon():pid())
      for _, t in ipairs(calls) do
        local err = helper.error_of(t.wait, t)
        print(err and err.kind, err and err.message:match("the embedded sbxd exited") ~= nil)
      end
      print(sbx.now() - t0 < 5)
    ]], "TMPDIR=" .. tmpdir)
    helper.sh("rm -rf " .. tmpdir)
    assert.are.equal(("SandboxError\ttrue\n"):rep(4) .. "true", out)
  end)

  it("gets its key through the environment: not on the command line, not to commands", function()
    local out = run_script([[
      local sbx = require "sbx"
      local embedded = require "sbx.embedded"
      local box = sbx.create()
      local _, key = embedded.endpoint()
      local f = assert(io.open("/proc/" .. embedded.daemon():pid() .. "/cmdline", "rb"))
      local cmdline = f:read("a")
      f:close()
      local env = box.commands:run("env").stdout
      print(#key, cmdline:find("--listen", 1, true) ~= nil, cmdline:find(key, 1, true) ~= nil,
        env:find(key, 1, true) ~= nil, env:find("SBXD_API_KEY", 1, true) ~= nil)
    ]])
    assert.are.equal("64\ttrue\tfalse\tfalse\tfalse", out)
  end)

  it("puts its socket under /tmp when TMPDIR is too long for a unix socket path", function()
    local prefix = "/tmp/sbx-spec-tmpdir-"
    local tmpdir = prefix .. ("x"):rep(120 - #prefix)
    assert.are.equal(120, #tmpdir)
    helper.sh("mkdir -p " .. tmpdir)
    local out = run_script([[
      local sbx = require "sbx"
      io.write(sbx.create().commands:run("echo hi").stdout)
      print((require("sbx.embedded").endpoint()))
    ]], "TMPDIR=" .. tmpdir)
    helper.sh("rm -rf " .. tmpdir)
    assert.matches("^hi\nunix:/tmp/sbx%-[%w]+/sbxd%.sock$", out)
  end)

  it("runs sbxd and sandboxes as ordinary processes under a real-time host or sbxd", function()
    if helper.sh("id -u") ~= "0" then return pending("needs root, to set a real-time policy") end
    -- A host whose frame thread runs at SCHED_FIFO (games, audio engines). The kernel refuses
    -- to move a real-time process into a cgroup that limits CPU: a sandbox that inherited
    -- the policy could not start ("cannot put the sandbox in its cgroups"). Field 41 of
    -- /proc/PID/stat is the policy: 0 SCHED_OTHER, 1 SCHED_FIFO.
    local script = [[
      local sbx = require "sbx"
      local box = sbx.create()
      local function policy(pid)
        local f = assert(io.open("/proc/" .. pid .. "/stat"))
        local fields = {}
        for w in f:read("a"):gmatch("%S+") do fields[#fields + 1] = w end
        f:close()
        return fields[41]
      end
      local r = box.commands:run("awk '{print $41}' /proc/self/stat")
      print(r.stdout:gsub("\n$", ""), r.exit_code, policy(require("sbx.embedded").daemon():pid()))
    ]]
    -- the host real-time: sbxd and the command ordinary
    local out = helper.sh(("env -u SBX_URL %s chrt -f 10 %s -e %s 2>&1"):format(ENV, LUA, helper.q(script)))
    assert.are.equal("0\t0\t0", out)
    -- sbxd started real-time (its choice, by a wrapper): its commands ordinary
    local dir = helper.sh("mktemp -d /tmp/sbx-spec-rt-XXXXXX")
    local wrapper = dir .. "/sbxd"
    local f = assert(io.open(wrapper, "w"))
    f:write(("#!/bin/sh\nexec chrt -f 10 %s \"$@\"\n"):format(helper.q(helper.SBXD)))
    f:close()
    helper.sh("chmod +x " .. wrapper)
    out = helper.sh(("env -u SBX_URL %s SBX_SBXD=%s %s -e %s 2>&1"):format(ENV, helper.q(wrapper), LUA,
      helper.q(script)))
    helper.sh("rm -rf " .. dir)
    assert.are.equal("0\t0\t1", out)
  end)

  it("runs sbxd and its commands nicer than the host, in the host's session, out of its ^C", function()
    -- What a host (a game's frame loop) shares its CPUs with: sbxd, relaying output, and the
    -- commands. sbxd runs 10 nicer than the host, and its commands inherit that. It stays
    -- in the host's session, so that where the kernel schedules by autogroups (one per
    -- session) that nice value weighs against the host; in a process group of its own, so
    -- that a terminal's ^C reaches the host only; and a background group is stopped when it
    -- touches the terminal, so sbxd ignores SIGTTOU and SIGTTIN, and its commands do not.
    local script = [[
      local sbx = require "sbx"
      local box = sbx.create()
      local function stat(pid) -- the fields after the command's name: [1] is field 3
        local f = assert(io.open("/proc/" .. pid .. "/stat"))
        local fields = {}
        for w in f:read("a"):match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
        f:close()
        return { pgrp = fields[3], session = fields[4], nice = fields[17] }
      end
      local function read(path)
        local f = io.open(path)
        if not f then return nil end
        local s = f:read("a")
        f:close()
        return s
      end
      local function stops(status) -- SIGTTIN (21) and SIGTTOU (22) ignored, by bits 20, 21
        local mask = tonumber(status:match("SigIgn:%s*(%x+)"), 16)
        return (mask >> 20 & 1) .. (mask >> 21 & 1)
      end
      local pid = require("sbx.embedded").daemon():pid()
      local host, d = stat("self"), stat(pid)
      local r = box.commands:run("awk '{print $19}' /proc/self/stat; cat /proc/self/status")
      local ag = read("/proc/self/autogroup")
      print(table.concat({ host.nice, d.nice, r.stdout:match("^(%S+)"),
        tostring(d.session == host.session), tostring(d.pgrp == tostring(pid) and d.pgrp ~= host.pgrp),
        stops(read("/proc/" .. pid .. "/status")), stops(r.stdout),
        tostring(ag == nil or ag == read("/proc/" .. pid .. "/autogroup")) }, " "))
    ]]
    assert.are.equal("0 10 10 true true 11 00 true", run_script(script))
    -- a host at nice 15: sbxd and the command at 19, the most there is
    local out = helper.sh(("env -u SBX_URL %s nice -n 15 %s -e %s 2>&1"):format(ENV, LUA, helper.q(script)))
    assert.are.equal("15 19 19 true true 11 00 true", out)
  end)

  it("is started by a core call that refuses a nice step outside 0..19", function()
    local core = require "sbx.core"
    for _, bad in ipairs { -1, 20, 2.5, "x" } do
      local ok, err = pcall(core.spawn_daemon, "/bin/true", {}, 1, nil, bad)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("bad argument #5", 1, true), tostring(err))
    end
  end)

  it("works from a Lua process that is not root: an isolated sandbox with one user", function()
    if helper.sh("id -u") ~= "0" then return pending("needs root, to become another user") end
    -- A copy of the module and the programs, readable by the unprivileged account
    -- (nobody), whatever the checkout's own permissions.
    local dir = helper.sh("mktemp -d /tmp/sbx-spec-nobody-XXXXXX")
    local build = helper.SBXD:match("^(.*)/sbxd$")
    helper.sh(("mkdir -p %s/lua %s/lib/sbx && cp -r lua/sbx %s/lua/ && cp %s/sbx/core.so %s/lib/sbx/ "
      .. "&& cp %s/sbxd %s/sbx-init %s/ && chmod -R a+rX %s")
      :format(dir, dir, dir, build, dir, build, build, dir, dir))
    local script = dir .. "/script.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local sbx = require "sbx"
      local box = sbx.create()
      local r = box.commands:run("id -u; id -un; echo $HOME; touch ~/f && echo wrote")
      io.write(r.stdout, r.stderr)
      local ok, err = pcall(box.commands.run, box.commands, "id", { user = "root" })
      print(ok, err.kind, err.message)
      print(box:info().isolation)
      local ok2, err2 = pcall(sbx.create, { memory_mb = 64 })
      print(ok2, err2.kind, err2.message)
      print(box.commands:run("sh -c 'echo $$' & wait").exit_code)
      -- no cgroup: pause stops every process of the sandbox by a signal from its init
      box.commands:run("setsid sh -c 'while :; do echo x >> /tmp/tick; sleep 0.02; done' >/dev/null 2>&1 &"
        .. " sleep 0.3")
      local path = io.popen("ls /tmp/sbxd-*/" .. box.id .. "/tmp/tick"):read("l")
      local function ticks() local n = 0; for _ in io.lines(path) do n = n + 1 end; return n end
      box:pause()
      os.execute("sleep 0.1")
      local paused = ticks()
      os.execute("sleep 0.5")
      print(box:info().state, ticks() - paused)
      box:resume()
      os.execute("sleep 0.3")
      print(box:info().state, ticks() > paused)
    ]])
    f:close()
    helper.sh("chmod a+r " .. script)
    local out = helper.sh(("cd %s && env -u SBX_URL LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' "
      .. "LUA_CPATH='%s/lib/?.so;;' SBX_SBXD=%s/sbxd LD_PRELOAD=%q ASAN_OPTIONS=%q LSAN_OPTIONS=%q "
      .. "HOME=/nonexistent TMPDIR=/tmp setpriv --reuid=nobody --regid=nogroup --clear-groups %s %s 2>&1")
      :format(dir, dir, dir, dir, dir, os.getenv("LD_PRELOAD") or "", os.getenv("ASAN_OPTIONS") or "",
        os.getenv("LSAN_OPTIONS") or "", LUA, script))
    helper.sh("rm -rf " .. dir)
    assert.are.equal("1000\nuser\n/home/user\nwrote\n"
      .. "false\tInvalidArgumentError\tcannot run as 'root': sbxd is not running as root, so a sandbox "
      .. "has one user, 'user'\nbwrap\n"
      .. "false\tInvalidArgumentError\t'memory_mb' needs a writable memory cgroup, which this sbxd has not "
      .. "(it runs as root where it has)\n0\npaused\t0\nrunning\ttrue", out)
  end)
end)
