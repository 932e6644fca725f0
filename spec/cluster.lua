-- Many sbxd behind nginx for the specs: deploy/local/cluster.sh, started and stopped
-- from Lua. Its sbxd is helper.SBXD (the instrumented one under make check, with this
-- process's sanitizer options, so its reports land where make check looks); the shell,
-- curl and nginx around it run without the sanitizer runtime, as helper.sh runs tools.
local core = require "sbx.core"
local helper = require "helper"

local M = {}

local SCRIPT = "deploy/local/cluster.sh"

local q = helper.q

local read_file = helper.read_file

--- A program that runs sbxd with this process's sanitizer options (none outside make check).
local function sbxd_wrapper(dir)
  local lines = { "#!/bin/sh" }
  for _, name in ipairs { "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS" } do
    local v = os.getenv(name)
    if v then lines[#lines + 1] = ("export %s=%s"):format(name, q(v)) end
  end
  lines[#lines + 1] = "exec " .. q(helper.SBXD) .. ' "$@"'
  local path = dir .. "/sbxd"
  local f = assert(io.open(path, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  helper.sh("chmod +x " .. q(path))
  return path
end

--- The shell command of cluster.sh ACTION DIR [ARG], with environment `env` ("NAME=value "
-- words).
local function command(base, action, arg, env)
  return ("%sSBXD=%s %s %s %s %s"):format(env or "", q(base .. "/sbxd"), SCRIPT, action,
    q(base .. "/c"), arg or "")
end

--- cluster.sh ACTION DIR [ARG], with environment `env`: its output.
local function run(base, action, arg, env)
  local out = helper.sh(command(base, action, arg, env) .. " 2>&1; echo \"rc=$?\"")
  local rc = tonumber(out:match("rc=(%d+)$"))
  assert(rc == 0, ("cluster.sh %s failed: %s"):format(action, out))
  return (out:gsub("\n?rc=%d+$", ""))
end

--- cluster.sh ACTION DIR in the background, while the caller goes on (drives its loops):
-- returns a function that says whether it ended, and raises when it failed.
local function run_in_background(base, action)
  local rc_file = ("%s/%s.%s.rc"):format(base, action, core.random_hex(4))
  helper.sh(("(%s >%s.out 2>&1; echo $? >%s.tmp; mv %s.tmp %s) </dev/null >/dev/null 2>&1 &"):format(
    command(base, action), q(rc_file), q(rc_file), q(rc_file), q(rc_file)))
  return function()
    local rc = read_file(rc_file)
    if not rc then return false end
    assert(tonumber(rc) == 0, ("cluster.sh %s failed: %s"):format(action, read_file(rc_file .. ".out")))
    return true
  end
end

--- Starts `n` sbxd (nodes 0 to n-1) and nginx in front. `sbxd_args`: more sbxd options;
-- `env`: more environment of cluster.sh ("NAME=value " words, e.g. NGINX_SHUTDOWN_TIMEOUT).
-- Returns the cluster: url, key, port (nginx's), opts ({url, api_key} for sbx calls),
-- node_pid(i), node_url(i) (node i itself, without nginx), kill(i) (SIGKILL node i),
-- reload() and restart() (nginx), begin(action) ("reload" or "restart" in the
-- background: a function saying whether it ended), stop().
function M.start(n, sbxd_args, env)
  local base = assert(core.mkdtemp("/tmp/sbx-cluster-"))
  sbxd_wrapper(base)
  env = (env or "") .. (sbxd_args and ("SBXD_ARGS=%s "):format(q(sbxd_args)) or "")
  local url = run(base, "start", tostring(n), env):match("(http://%S+)$")
  assert(url, "cluster.sh start printed no URL")
  local c = { url = url, dir = base .. "/c", n = n, port = tonumber(url:match(":(%d+)$")) }
  c.key = read_file(c.dir .. "/env"):match("SBX_API_KEY=(%S+)")
  c.opts = { url = c.url, api_key = c.key }
  function c.node_pid(i) return tonumber(read_file(("%s/node%d.pid"):format(c.dir, i))) end
  function c.node_url(i)
    local ready = read_file(("%s/node%d.ready"):format(c.dir, i))
    return "http://" .. ready:match("^ready (%S+)")
  end
  function c.kill(i) run(base, "kill", tostring(i)) end
  function c.reload() run(base, "reload") end
  function c.restart() run(base, "restart") end
  function c.begin(action)
    assert(action == "reload" or action == "restart", "begin: reload or restart")
    return run_in_background(base, action)
  end
  function c.stop()
    run(base, "stop")
    helper.sh("rm -rf " .. q(base))
  end
  return c
end

return M
