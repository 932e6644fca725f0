-- Sandboxes are isolated: bubblewrap namespaces and an init per sandbox. What a command
-- sees of the host and of other sandboxes, who it runs as, and that nothing of a sandbox
-- outlives it on the host.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"

--- A unique word for a command line, so pgrep finds exactly this spec's processes.
local function marker()
  return ("%d%04d"):format(math.floor(core.now() * 1000) % 1000000, math.random(0, 9999))
end

--- Host processes whose command line holds `word`.
local function host_processes(word)
  return #helper.pgrep("sleep " .. word)
end

--- The cgroup directories of a sandbox, in every hierarchy.
local function cgroups_of(id)
  return helper.sh("find /sys/fs/cgroup -type d -name " .. id .. " 2>/dev/null | wc -l")
end

local function mounts_under(dir)
  local n = 0
  for line in io.lines("/proc/mounts") do
    if line:find(dir, 1, true) then n = n + 1 end
  end
  return n
end

describe("an isolated sandbox", function()
  local server, opts, root

  setup(function()
    root = assert(core.mkdtemp("/tmp/sbx-spec-root-"))
    server = helper.sbxd { args = { "--root", root } }
    opts = { url = server.url, api_key = server.key }
  end)

  teardown(function()
    server.stop()
    helper.sh("rm -rf " .. root)
  end)

  it("says it is isolated", function()
    local box <close> = sbx.create(opts)
    assert.are.equal("bwrap", box:info().isolation)
  end)

  it("keeps each sandbox's files and processes its own", function()
    local a <close> = sbx.create(opts)
    local b <close> = sbx.create(opts)
    a.commands:run("echo secret > /home/user/f; echo t > /tmp/t")
    local w = marker()
    a.commands:run("setsid sleep " .. w .. " > /dev/null 2>&1 & sleep 0.2")
    local r = b.commands:run("cat /home/user/f /tmp/t; ps -e -o comm=")
    assert.matches("No such file", r.stderr)
    assert.are.equal(2, select(2, r.stderr:gsub("No such file", "")))
    assert.are.equal("init\nsh\nps\n", r.stdout)
    assert.are.equal("secret\n", a.commands:run("cat /home/user/f").stdout)
    assert.matches("sleep", a.commands:run("ps -e -o comm=").stdout)
  end)

  it("runs its commands as PID 2 and up under its own init", function()
    local box <close> = sbx.create(opts)
    local r = box.commands:run("echo $$ $PPID; cat /proc/1/cmdline | tr '\\0' ' '")
    local pid, ppid, init = r.stdout:match("^(%d+) (%d+)\n(.*)$")
    assert.is_true(tonumber(pid) > 1)
    assert.are.equal("1", ppid)
    assert.matches("init", init)
    assert.are.equal(tonumber(pid), r.pid)
  end)

  it("sees none of the host: its checkout, /root, the shadow file, sbxd's root", function()
    local box <close> = sbx.create(opts)
    local here = helper.sh("pwd")
    local r = box.commands:run(("ls %s; ls /root; cat /etc/shadow; ls %s; ls /work"):format(here, root))
    assert.are.equal("", r.stdout)
    assert.are.equal(5, select(2, r.stderr:gsub("No such file or directory", ""))
      + select(2, r.stderr:gsub("Permission denied", "")))
    assert.are.equal("root\nuser\nnobody\n",
      box.commands:run("cut -d: -f1 /etc/passwd").stdout)
  end)

  it("has /usr read-only and its home and /tmp writable", function()
    local box <close> = sbx.create(opts)
    local r = box.commands:run("touch /usr/x; echo $?; touch ~/x /tmp/x && echo ok; pwd; echo $HOME")
    assert.matches("Read%-only file system", r.stderr)
    assert.are.equal("1\nok\n/home/user\n/home/user\n", r.stdout)
  end)

  it("has only a loopback interface without network, the host's with it", function()
    local closed <close> = sbx.create(opts)
    local ifaces = closed.commands:run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '").stdout
    assert.are.equal("lo\n", ifaces)
    local open <close> = sbx.create { url = server.url, api_key = server.key, network = true }
    local host = helper.sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort")
    local seen = open.commands:run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort").stdout
    assert.are.equal(host .. "\n", seen)
  end)

  it("opens a pty inside, on its own devpts", function()
    local box <close> = sbx.create(opts)
    assert.are.equal("/dev/pts/0\r\n", box.commands:run("script -qc tty /dev/null").stdout)
  end)

  describe("users", function()
    it("runs as user (1000) by default, as root and nobody when asked", function()
      local box <close> = sbx.create(opts)
      assert.are.equal("1000 user\n", box.commands:run("echo $(id -u) $(id -un)").stdout)
      local as_root = box.commands:run("echo $(id -u) $(id -un) $HOME", { user = "root" })
      assert.are.equal("0 root /root\n", as_root.stdout)
      assert.are.equal("65534\n", box.commands:run("id -u", { user = "nobody" }).stdout)
    end)

    it("maps the sandbox's root onto an unprivileged host uid", function()
      local box <close> = sbx.create(opts)
      box.commands:run("touch /home/user/by-root", { user = "root" })
      box.commands:run("touch /home/user/by-user")
      local home = root .. "/" .. box.id .. "/home"
      local owner = tonumber(helper.sh("stat -c %u " .. home .. "/by-root"))
      assert.is_true(owner ~= 0, "host uid " .. owner)
      assert.are.equal(owner + 1000, tonumber(helper.sh("stat -c %u " .. home .. "/by-user")))
      assert.matches("^%s+0%s+" .. owner .. "%s+65536\n$",
        box.commands:run("cat /proc/self/uid_map").stdout)
    end)

    it("refuses a user the sandbox does not know", function()
      local box <close> = sbx.create(opts)
      local err = helper.error_of(box.commands.run, box.commands, "id", { user = "daemon" })
      assert.are.equal("InvalidArgumentError", err.kind)
      assert.are.equal(400, err.status)
      assert.matches("unknown user 'daemon'", err.message)
      assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
    end)
  end)

  describe("the end of a command", function()
    it("is its own exit: what it left running in its own session does not hold run", function()
      local box <close> = sbx.create(opts)
      local w = marker()
      local started = core.now()
      local r = box.commands:run("setsid sleep " .. w .. " > /dev/null 2>&1 & sleep 0.2; echo started")
      assert.are.equal("started\n", r.stdout)
      assert.are.equal(0, r.exit_code)
      assert.is_true(core.now() - started < 5)
      assert.are.equal(1, host_processes(w))
    end)

    it("is its own exit even when a process it left holds its pipes", function()
      local box <close> = sbx.create(opts)
      local w = marker()
      local r = box.commands:run("setsid sleep " .. w .. " & echo out; echo err >&2")
      assert.are.equal("out\n", r.stdout)
      assert.are.equal("err\n", r.stderr)
    end)
  end)

  describe("the end of a sandbox", function()
    local function left_running(how)
      local box = sbx.create(opts)
      local w = marker()
      box.commands:run("setsid sleep " .. w .. " > /dev/null 2>&1 & setsid sleep 1" .. w
        .. " > /dev/null 2>&1 & sleep 0.2")
      assert.are.equal(2, host_processes(w) + #helper.pgrep("sleep 1" .. w))
      local dir = root .. "/" .. box.id
      how(box)
      assert.is_true(helper.eventually(function()
        return host_processes(w) == 0 and #helper.pgrep("sleep 1" .. w) == 0
      end, 5), "no process of the sandbox is left on the host")
      assert.is_true(helper.eventually(function()
        return mounts_under(dir) == 0 and not io.open(dir .. "/home")
      end, 5), "no mount or directory of it is left")
      return box
    end

    it("kills every process in it when it is killed, and removes its cgroups", function()
      local box = left_running(function(box) assert.is_true(box:kill()) end)
      assert.are.equal("0", cgroups_of(box.id))
    end)

    it("kills every process in it when it is killed while paused", function()
      left_running(function(box)
        box:pause()
        assert.is_true(box:kill())
      end)
    end)

    it("kills every process in it when its lifetime ends", function()
      left_running(function(box)
        box:set_timeout(0.2)
        helper.sleep(0.5)
      end)
    end)

    it("leaves no zombie of it to the host's PID 1: sbxd reaps its init too", function()
      -- A kill takes bwrap and the sandbox's init at once. An init whose bwrap died first
      -- is an orphan, and comes to sbxd (its subreaper), which reaps it; left to a PID 1
      -- that reaps nothing (a container's, some VMs'), each would stay a zombie. The
      -- sandbox is a fresh sbxd's warm one, made before its loop began.
      local own = helper.sbxd()
      local box = sbx.create { url = own.url, api_key = own.key }
      local function children(pid)
        local out = {}
        for p in helper.sh("pgrep -P " .. pid .. " || true"):gmatch("%d+") do out[#out + 1] = tonumber(p) end
        return out
      end
      local inits = {}
      for _, bwrap in ipairs(children(own.pid)) do
        for _, init in ipairs(children(bwrap)) do inits[#inits + 1] = init end
      end
      assert.is_true(#inits >= 1, "the sandboxes' inits")
      assert.is_true(box:kill())
      local function orphaned_zombie()
        for _, pid in ipairs(inits) do
          local f = io.open(("/proc/%d/stat"):format(pid))
          local stat = f and f:read("a")
          if f then f:close() end
          local state, ppid = (stat or ""):match("%) (%S+) (%d+)")
          if state == "Z" and tonumber(ppid) ~= own.pid then return pid end
        end
      end
      local t0 = core.now()
      while core.now() - t0 < 1 do
        assert.is_nil(orphaned_zombie(), "a zombie left to another parent")
        sbx.step(0.05)
      end
      own.stop()
    end)

    it("kills every process in it when sbxd is killed with SIGKILL", function()
      local own = helper.sbxd()
      local box = sbx.create { url = own.url, api_key = own.key }
      local w = marker()
      box.commands:run("setsid sleep " .. w .. " > /dev/null 2>&1 & sleep 0.2")
      assert.are.equal(1, host_processes(w))
      require("sbx.testing").kill(own.daemon, 9)
      assert.is_true(helper.eventually(function() return host_processes(w) == 0 end, 5))
      own.stop()
    end)

    it("raises NotFoundError, with the output so far, for a run in flight", function()
      local box = sbx.create(opts)
      local err
      sbx.go(function()
        err = helper.error_of(box.commands.run, box.commands, "echo before; sleep 30")
      end)
      sbx.go(function()
        require("sbx.task").sleep(0.5)
        sbx.connect(box.id, opts):kill()
      end)
      sbx.loop()
      assert.are.equal("NotFoundError", err and err.kind)
      assert.are.equal("before\n", err.result.stdout)
      assert.are.equal("sandbox_killed", err.result.error)
    end)
  end)
end)

describe("a restarted sbxd", function()
  it("removes the sandbox directories and cgroups a killed one left in its root", function()
    local root = assert(core.mkdtemp("/tmp/sbx-spec-root-"))
    local first = helper.sbxd { args = { "--root", root } }
    local box = sbx.create { url = first.url, api_key = first.key }
    box.commands:run("echo x > /home/user/x")
    local groups = cgroups_of(box.id)
    require("sbx.testing").kill(first.daemon, 9)
    first.stop()
    assert.is_truthy(io.open(root .. "/" .. box.id .. "/home/x"))
    assert.are.equal(groups, cgroups_of(box.id))
    local second = helper.sbxd { args = { "--root", root } }
    assert.is_nil(io.open(root .. "/" .. box.id))
    assert.are.equal("0", cgroups_of(box.id))
    second.stop()
    helper.sh("rm -rf " .. root)
  end)

  it("refuses a root another sbxd uses", function()
    local root = assert(core.mkdtemp("/tmp/sbx-spec-root-"))
    local first = helper.sbxd { args = { "--root", root } }
    local out = helper.sh(helper.SBXD .. " --listen unix:" .. root .. "/x.sock --root " .. root
      .. " 2>&1; echo status=$?")
    assert.are.equal("sbxd: another sbxd uses --root " .. root .. "\nstatus=1", out)
    first.stop()
    helper.sh("rm -rf " .. root)
  end)
end)

describe("isolation none", function()
  it("runs commands on the host and says so", function()
    local server = helper.sbxd { args = { "--isolation", "none" } }
    local box = sbx.create { url = server.url, api_key = server.key }
    assert.are.equal("none", box:info().isolation)
    assert.are.equal("hi\n", box.commands:run("echo hi").stdout)
    box:close()
    server.stop()
  end)

  it("takes in a command's orphans and reaps them: none is left to the host's PID 1", function()
    -- A process whose parent ended goes to the nearest subreaper above it: sbxd, which
    -- reaps it when it exits. Left to a PID 1 that reaps nothing (a container's, some
    -- VMs'), each would stay a zombie; so would a sandbox's init whose bwrap died first.
    local server = helper.sbxd { args = { "--isolation", "none" } }
    local box = sbx.create { url = server.url, api_key = server.key }
    -- in a session of its own, so that the end of the command's process group spares it
    -- (the sleep 0.2: its setsid done before that end)
    local orphan = tonumber(box.commands:run("setsid sleep 1 </dev/null >/dev/null 2>&1 & echo $!; sleep 0.2")
      .stdout)
    local function field(n) -- of /proc/PID/stat, after the command's name
      local f = io.open(("/proc/%d/stat"):format(orphan))
      if not f then return nil end
      local line = f:read("a")
      f:close()
      local i = 0
      for v in line:match("%) (.*)$"):gmatch("%S+") do
        i = i + 1
        if i == n then return v end
      end
    end
    assert.are.equal(tostring(server.pid), field(2), "its parent")
    assert.is_true(helper.eventually(function() return field(1) == nil end, 5), "reaped, not a zombie")
    box:close()
    server.stop()
  end)

  it("is what to use when bubblewrap is missing, as the error says", function()
    local server = helper.sbxd { args = { "--bwrap", "/nonexistent/bwrap" } }
    local err = helper.error_of(sbx.create, { url = server.url, api_key = server.key })
    assert.are.equal("SandboxError", err.kind)
    assert.matches("cannot isolate sandboxes: %-%-bwrap is not an executable program", err.message)
    server.stop()
    server = helper.sbxd { args = { "--init", "/nonexistent/init" } }
    err = helper.error_of(sbx.create, { url = server.url, api_key = server.key })
    assert.matches("%-%-init", err.message)
    server.stop()
  end)
end)
