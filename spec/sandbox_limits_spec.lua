-- A sandbox's limits: processes, memory and CPU through its cgroups, and a default bound
-- on processes that keeps one sandbox's fork bomb in that sandbox.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"

local function is_root()
  return helper.sh("id -u") == "0"
end

-- A fork bomb, bounded in time by the command's own timeout.
local BOMB = "b() { b | b & }; b; sleep 3"

describe("a sandbox's limits", function()
  local server, opts

  setup(function()
    server = helper.sbxd { args = { "--default-pids", "100" } }
    opts = { url = server.url, api_key = server.key }
  end)

  teardown(function() server.stop() end)

  it("keep a fork bomb under pids inside its sandbox; sbxd and other sandboxes serve on", function()
    local bomb <close> = sbx.create { url = server.url, api_key = server.key, pids = 64 }
    local other <close> = sbx.create(opts)
    -- it ends when its shell gives up on a fork refused, or by its timeout
    local t = sbx.go(function()
      local ok, res = pcall(bomb.commands.run, bomb.commands, BOMB, { timeout = 3 })
      if ok then return res end
      assert.are.equal("TimeoutError", res.kind)
      return res.result
    end)
    local started = core.now()
    -- meanwhile, another sandbox runs commands as usual
    while core.now() - started < 1.5 do
      assert.are.equal("ok\n", other.commands:run("echo ok").stdout)
      sbx.step(0.05)
    end
    local result = t:wait()
    assert.matches("fork", result.stderr:lower())
    -- the bomb's processes are bounded: its sandbox counts at most 64 (and what it is left
    -- with dies with it)
    assert.are.equal("ok\n", bomb.commands:run("echo ok").stdout)
  end)

  it("keep a fork bomb under the default bound without pids", function()
    local bomb <close> = sbx.create(opts)
    -- the shell gives up at its first fork refused, before 150
    local r = bomb.commands:run("i=0; while [ $i -lt 150 ]; do sleep 5 & i=$((i+1)); done; echo started $i",
      { timeout = 10 })
    assert.matches("Cannot fork", r.stderr)
    assert.are.equal("", r.stdout)
    assert.are.equal("ok\n", bomb.commands:run("echo ok").stdout)
  end)

  it("end a command that outgrows memory_mb, and say so", function()
    if not is_root() then return pending("cgroups need root") end
    local box <close> = sbx.create { url = server.url, api_key = server.key, memory_mb = 64 }
    local r = box.commands:run("head -c 2G /dev/zero | tail > /dev/null; echo after=$?", { timeout = 60 })
    assert.matches("after=137", r.stdout)
    -- the command itself (the shell, replaced by awk) killed: its end says why
    local r2 = box.commands:run([[exec awk 'BEGIN { s = "x"; while (1) s = s s }']], { timeout = 60 })
    assert.are.equal(137, r2.exit_code)
    assert.are.equal("memory_limit", r2.error)
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
  end)

  it("give a sandbox cpus worth of CPU time", function()
    if not is_root() then return pending("cgroups need root") end
    local box <close> = sbx.create { url = server.url, api_key = server.key, cpus = 0.2 }
    -- a busy loop for 1 s of wall time gets about 0.2 s of CPU
    local r = box.commands:run("timeout 1 sh -c 'while :; do :; done'; cat /proc/$$/stat > /dev/null; "
      .. "times", { timeout = 10 })
    local m, s = r.stdout:match("\n(%d+)m([%d.]+)s %d+m[%d.]+s\n$")
    local cpu = tonumber(m) * 60 + tonumber(s)
    assert.is_true(cpu < 0.5, "children used " .. cpu .. " s of CPU")
  end)

  it("refuse bad limits with InvalidArgumentError, on the client and on sbxd", function()
    for _, bad in ipairs {
      { memory_mb = -1 }, { memory_mb = 1.5 }, { pids = 0 }, { pids = "8" }, { cpus = 0 }, { cpus = -2 },
    } do
      bad.url, bad.api_key = server.url, server.key
      local err = helper.error_of(sbx.create, bad)
      assert.are.equal("InvalidArgumentError", err.kind)
    end
    for body, message in pairs {
      ['{"memory_mb": -1}'] = "'memory_mb' must be a whole number from 1 to 1048576",
      ['{"memory_mb": 2.5}'] = "'memory_mb' must be a whole number from 1 to 1048576",
      ['{"pids": "8"}'] = "'pids' must be a whole number from 1 to 4194304",
      ['{"cpus": 0}'] = "'cpus' must be a number from 0.01 to 1024",
      ['{"cpus": 1e9}'] = "'cpus' must be a number from 0.01 to 1024",
    } do
      local out = helper.sh(("curl -s -w ' %%{http_code}' -H 'Authorization: Bearer %s' -d '%s' %s/sandboxes")
        :format(server.key, body, server.url))
      assert.are.equal('{"error":{"kind":"InvalidArgumentError","message":"' .. message .. '"}} 400', out)
    end
    assert.are.equal(0, #sbx.list(opts) - #sbx.list(opts)) -- sbxd serves on
  end)
end)

describe("sbxd --cgroup-delegated", function()
  -- Where its group hands nothing down that sbxd needs (this machine's memory, pids and
  -- cpu are v1, or they are handed down already), sbxd stays where it was started. The
  -- move itself, where a v2 group must hand controllers down, is in spec/c/test_cgroup.c.
  it("stays in its group when nothing needs handing down; limits work as before", function()
    if not is_root() then return pending("cgroups need root") end
    local server = helper.sbxd { args = { "--cgroup-delegated" } }
    local ok, err = pcall(function()
      assert.are.equal(helper.read_file("/proc/self/cgroup"),
        helper.read_file(("/proc/%d/cgroup"):format(server.pid)))
      local box <close> = sbx.create { url = server.url, api_key = server.key, memory_mb = 64, pids = 32 }
      assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
      box:pause()
      box:resume()
      assert.are.equal("again\n", box.commands:run("echo again").stdout)
    end)
    server.stop()
    assert(ok, err)
  end)
end)
