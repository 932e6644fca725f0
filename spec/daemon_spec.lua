-- sbxd as a process: where its key can be read, the descriptors it starts with, and the
-- descriptor limit its commands get. Each spec starts an sbxd of its own from a shell
-- command line, because how sbxd is started is what is under test.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"

-- Starts `shell_prefix sbxd --listen 127.0.0.1:0 ARGS --ready-fd 1 REDIRECTS` in the
-- background and returns its pid, the URL it listens at, and the pipe its stdout went to
-- (to close once it is stopped: the shell waits for sbxd and exits with its status).
local function start(shell_prefix, args, redirects)
  local f = assert(io.popen(("unset LD_PRELOAD; %s exec %s --listen 127.0.0.1:0 %s --ready-fd 1 --quiet"
    .. " %s & echo $!; wait $!; echo \"exit=$?\""):format(shell_prefix, helper.SBXD, args, redirects or "")))
  local pid = tonumber(f:read("l"))
  local addr = assert((f:read("l") or ""):match("^ready (%S+)"), "sbxd did not report ready")
  return pid, "http://" .. addr, f
end

local function read_proc(pid, what)
  local f = io.open(("/proc/%d/%s"):format(pid, what), "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Stops sbxd with SIGTERM and returns its exit status (128+N when a signal N ended it).
local function stop(pid, f)
  helper.sh("kill -TERM " .. pid)
  local status
  for line in f:lines() do status = status or tonumber(line:match("^exit=(%d+)")) end
  f:close()
  return status
end

describe("sbxd's key", function()
  it("cannot be read from /proc, whether given on the command line or in the environment", function()
    for _, way in ipairs { "argv", "env" } do
      local key = "k" .. core.random_hex(16)
      local pid, url, f
      if way == "argv" then
        pid, url, f = start("", "--api-key " .. key)
      else
        pid, url, f = start("SBXD_API_KEY=" .. key, "")
      end
      finally(function() if helper.alive(pid) then stop(pid, f) end end)
      assert.is_nil(read_proc(pid, "cmdline"):find(key, 1, true), way .. ": the key is in cmdline")
      assert.is_nil(read_proc(pid, "environ"):find(key, 1, true), way .. ": the key is in environ")
      local box = sbx.create { url = url, api_key = key }
      assert.are.equal("ok\n", box.commands:run("echo ok").stdout, way)
      box:close()
      stop(pid, f)
    end
  end)
end)

describe("sbxd started with its standard descriptors closed", function()
  it("serves, gives commands their own 0, 1 and 2, and shuts down cleanly", function()
    -- stdin and stderr closed; stdout is the ready pipe, which sbxd closes after the line.
    local key = "k" .. core.random_hex(8)
    local pid, url, f = start("", "--api-key " .. key, "0<&- 2>&-")
    finally(function() if helper.alive(pid) then stop(pid, f) end end)
    local box = sbx.create { url = url, api_key = key }
    local r = box.commands:run("echo out; echo err >&2; cat; ls /proc/self/fd | sort -n | head -3")
    assert.are.equal("out\n0\n1\n2\n", r.stdout)
    assert.are.equal("err\n", r.stderr)
    box:close()
    assert.are.equal(0, stop(pid, f), "sbxd did not exit cleanly on SIGTERM")
  end)
end)

describe("a command's descriptor limit", function()
  it("is the one sbxd was started with, though sbxd raised its own", function()
    local hard = tonumber(helper.sh("ulimit -Hn"))
    if not hard or hard <= 256 then return end -- nothing for sbxd to raise
    local key = "k" .. core.random_hex(8)
    local pid, url, f = start("ulimit -Sn 256;", "--api-key " .. key)
    finally(function() if helper.alive(pid) then stop(pid, f) end end)
    local own = read_proc(pid, "limits"):match("Max open files%s+(%d+)")
    assert.are.equal(tostring(hard), own, "sbxd raised its soft limit to the hard one")
    local box = sbx.create { url = url, api_key = key }
    assert.are.equal("256\n", box.commands:run("ulimit -Sn").stdout)
    assert.are.equal(hard .. "\n", box.commands:run("ulimit -Hn").stdout)
    box:close()
    stop(pid, f)
  end)
end)
