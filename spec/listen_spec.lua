-- sbxd's listening sockets: it binds exactly the address asked for, refuses what it cannot
-- bind so, keeps its unix socket private and a live server's path alone, and survives
-- running out of file descriptors. Raw LuaSocket clients here make what a normal client
-- does not: connections to the machine's other addresses, and connections that send
-- nothing.
local socket = require "socket"
local unix = require "socket.unix"
local core = require "sbx.core"
local sbx = require "sbx"
local helper = require "helper"

local SBXD = helper.SBXD

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- Starts sbxd with exactly these arguments; returns the daemon and its ready address.
local function start(args)
  local daemon, line = core.spawn_daemon(SBXD, args, 10)
  assert(daemon, line)
  return daemon, assert(line:match("^ready (%S+)"), line)
end

--- Runs an sbxd that is expected to refuse to start: its output and exit status. A
-- `timeout` ends one that starts after all (it would serve until stopped).
local function refused(args)
  local words = {}
  for i, a in ipairs(args) do words[i] = quote(a) end
  local out = helper.sh(("timeout 10 %s %s 2>&1; echo status=$?"):format(SBXD, table.concat(words, " ")))
  return out:match("^(.-)\n?status=(%d+)$")
end

--- The local addresses of TCP listeners on this port (ss: "127.0.0.1:PORT", "[::1]:PORT").
local function listening_on(port)
  local found = {}
  for addr in helper.sh("ss -ltnH"):gmatch("%S+%s+%S+%s+%S+%s+(%S+)%s+%S+[^\n]*") do
    if addr:match(":(%d+)$") == tostring(port) then found[#found + 1] = addr end
  end
  table.sort(found)
  return found
end

--- Connects over TCP (IPv6 for a host with a colon); true, or false and the error.
local function connects(host, port)
  local c = host:find(":", 1, true) and socket.tcp6() or socket.tcp()
  c:settimeout(2)
  local ok, err = c:connect(host, port)
  c:close()
  return ok == 1, err
end

local function lists(url, key)
  local boxes = sbx.list { url = url, api_key = key }
  return type(boxes) == "table"
end

--- Whether this machine has IPv6's loopback address (a container may have IPv6 off).
local function has_ipv6_loopback()
  return helper.sh("ip -6 -o addr show dev lo"):find("inet6 ::1/", 1, true) ~= nil
end

--- The machine's first IPv4 address that is not a loopback one, or nil.
local function other_ipv4()
  return helper.sh("ip -4 -o addr show scope global"):match("inet (%d+%.%d+%.%d+%.%d+)")
end

describe("sbxd's TCP listener", function()
  local key = core.random_hex(16)

  it("binds 127.0.0.1 only: the machine's other addresses and ::1 are refused", function()
    local daemon, addr = start { "--listen", "127.0.0.1:0", "--api-key", key, "--quiet" }
    local port = tonumber(addr:match("^127%.0%.0%.1:(%d+)$"))
    assert.is_number(port, addr)
    assert.are.same({ "127.0.0.1:" .. port }, listening_on(port))
    local other = other_ipv4()
    if other then
      local ok, err = connects(other, port)
      assert.is_false(ok, other)
      assert.are.equal("connection refused", err)
    end
    if has_ipv6_loopback() then
      local ok, err = connects("::1", port)
      assert.is_false(ok)
      assert.are.equal("connection refused", err)
    end
    assert.is_true(lists("http://" .. addr, key))
    daemon:stop()
  end)

  it("binds [::1] only, and reports it as [::1]:PORT", function()
    if not has_ipv6_loopback() then return pending("this machine has no ::1") end
    local daemon, addr = start { "--listen", "[::1]:0", "--api-key", key, "--quiet" }
    local port = tonumber(addr:match("^%[::1%]:(%d+)$"))
    assert.is_number(port, addr)
    assert.are.same({ "[::1]:" .. port }, listening_on(port))
    local ok, err = connects("127.0.0.1", port)
    assert.is_false(ok)
    assert.are.equal("connection refused", err)
    assert.is_true(lists("http://" .. addr, key))
    daemon:stop()
  end)

  it("takes localhost as 127.0.0.1", function()
    local daemon, addr = start { "--listen", "localhost:0", "--api-key", key, "--quiet" }
    local port = tonumber(addr:match("^127%.0%.0%.1:(%d+)$"))
    assert.is_number(port, addr)
    assert.are.same({ "127.0.0.1:" .. port }, listening_on(port))
    daemon:stop()
  end)

  it("refuses, at start, an address it cannot bind exactly", function()
    for _, bad in ipairs { "example.com:7070", "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:-1",
      "::1:7070", "[::1]", "[::1]7070", "[example]:7070", "*:7070", ":7070", "127.1:7070" } do
      local out, status = refused { "--listen", bad, "--api-key", key }
      assert.are.equal("2", status, bad .. ": " .. out)
      assert.is_truthy(out:find("sbxd: --listen " .. bad .. ": ", 1, true), out)
      assert.is_nil(out:find("ready", 1, true), out)
    end
  end)

  it("raises its soft descriptor limit to the hard one", function()
    local daemon = assert(core.spawn_daemon("/bin/sh",
      { "-c", 'ulimit -Sn 256 && exec "$@"', "sh", SBXD, "--listen", "127.0.0.1:0", "--api-key", key,
        "--quiet" }, 10))
    local soft, hard = helper.sh("grep 'open files' /proc/" .. daemon:pid() .. "/limits")
      :match("(%d+)%s+(%d+)")
    assert.are.equal(hard, soft)
    assert.is_true(tonumber(soft) > 256)
    daemon:stop()
  end)
end)

describe("sbxd's unix socket", function()
  local dir, path

  before_each(function()
    dir = assert(core.mkdtemp("/tmp/sbx-spec-"))
    path = dir .. "/sbxd.sock"
  end)

  after_each(function()
    helper.sh("rm -rf " .. quote(dir))
  end)

  it("refuses, at start, a path too long for a socket address", function()
    local long = dir .. "/" .. ("s"):rep(120)
    local out, status = refused { "--listen", "unix:" .. long }
    assert.are.equal("2", status, out)
    assert.matches("is 1%d%d bytes long; at most 107 fit", out)
    assert.is_nil(out:find("ready", 1, true), out)
  end)

  it("is 0600 from its creation: no chmod after the bind makes it private", function()
    -- strace makes every chmod of sbxd fail (a fault no client can make). Under the
    -- sanitizers LeakSanitizer cannot check leaks in a traced process: its check is off.
    if helper.sh("command -v strace || true") == "" then
      return pending("strace is not installed")
    end
    local script = "unset LD_PRELOAD; export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\"; "
      .. "umask 000; exec strace -o /dev/null -e trace=chmod,fchmod,fchmodat "
      .. "-e inject=chmod,fchmod,fchmodat:error=EPERM \"$@\""
    local daemon = assert(core.spawn_daemon("/bin/sh",
      { "-c", script, "sh", SBXD, "--listen", "unix:" .. path, "--quiet" }, 10))
    assert.are.equal("srw-------", helper.sh("stat -c %A " .. quote(path)))
    assert.is_true(lists("unix:" .. path))
    daemon:stop()
  end)

  it("replaces a stale socket file nobody listens on", function()
    local stale = unix()
    assert(stale:bind(path))
    stale:close()
    assert.are.equal("socket", helper.sh("stat -c %F " .. quote(path)))
    local daemon, addr = start { "--listen", "unix:" .. path, "--quiet" }
    assert.are.equal("unix:" .. path, addr)
    assert.is_true(lists(addr))
    daemon:stop()
  end)

  it("does not take the path of a live sbxd", function()
    local daemon = start { "--listen", "unix:" .. path, "--quiet" }
    local out, status = refused { "--listen", "unix:" .. path, "--quiet" }
    assert.are.equal("1", status, out)
    assert.is_truthy(out:find("a server is already listening on " .. path, 1, true), out)
    assert.is_true(lists("unix:" .. path))
    daemon:stop()
  end)

  it("leaves a file that is not a socket alone", function()
    local f = assert(io.open(path, "w"))
    f:write("precious\n")
    f:close()
    local out, status = refused { "--listen", "unix:" .. path, "--quiet" }
    assert.are.equal("1", status, out)
    assert.matches("exists and is not a socket", out)
    f = assert(io.open(path))
    assert.are.equal("precious\n", f:read("a"))
    f:close()
  end)

  it("removes its socket file when it stops", function()
    local daemon = start { "--listen", "unix:" .. path, "--quiet" }
    assert.are.equal("socket", helper.sh("stat -c %F " .. quote(path)))
    daemon:stop()
    assert.are.equal("gone", helper.sh("test -e " .. quote(path) .. " && echo there || echo gone"))
  end)
end)

describe("sbxd out of file descriptors", function()
  --- CPU time (user + system) a process has used, in seconds.
  local TICKS = tonumber(helper.sh("getconf CLK_TCK"))
  local function cpu_seconds(pid)
    local f = assert(io.open("/proc/" .. pid .. "/stat"))
    local rest = f:read("a"):match("^%d+ %b() (.*)")
    f:close()
    local fields = {}
    for v in rest:gmatch("%S+") do fields[#fields + 1] = v end
    return (tonumber(fields[12]) + tonumber(fields[13])) / TICKS
  end

  local REQUEST = "GET /sandboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"

  --- Sends a request on a raw connection and reads the whole answer; its status line.
  local function status_line(conn, key)
    assert(conn:send(REQUEST:format(key)))
    local line, length = assert(conn:receive("*l")), 0
    repeat
      local header = assert(conn:receive("*l"))
      length = tonumber(header:match("^[Cc]ontent%-[Ll]ength: *(%d+)")) or length
    until header == ""
    assert(conn:receive(length))
    return line
  end

  it("refuses waiting connections with 503, without spinning, logs it once, serves its "
    .. "connections, recovers", function()
    local dir = assert(core.mkdtemp("/tmp/sbx-spec-"))
    local log, key = dir .. "/log", core.random_hex(16)
    -- Its log (no --quiet) goes to a file.
    local daemon, line = core.spawn_daemon("/bin/sh",
      { "-c", 'log=$1; shift; exec "$@" 2>"$log"', "sh", log, SBXD, "--listen", "127.0.0.1:0",
        "--api-key", key }, 10)
    assert(daemon, line)
    local pid = daemon:pid()
    local port = tonumber(line:match("^ready 127%.0%.0%.1:(%d+)$"))
    local held = assert(socket.connect("127.0.0.1", port))
    held:settimeout(5)
    assert.are.equal("HTTP/1.1 200 OK", status_line(held, key))

    local limit = helper.fd_count(pid) + 4
    helper.sh(("prlimit --pid %d --nofile=%d:%d"):format(pid, limit, limit))
    local idle = {}
    for i = 1, 40 do idle[i] = assert(socket.connect("127.0.0.1", port)) end

    -- A connection it has is served while others wait to be accepted.
    assert.are.equal("HTTP/1.1 200 OK", status_line(held, key))
    local before = cpu_seconds(pid)
    helper.sleep(2)
    local used = cpu_seconds(pid) - before
    assert.is_true(used < 0.5, ("sbxd used %.2f s of CPU in 2 s"):format(used))
    local lines = tonumber(helper.sh("wc -l < " .. log))
    local shortage = tonumber(helper.sh("grep -c 'accept: Too many open files' " .. log .. " || true"))
    assert.is_true(lines <= 5, lines .. " log lines")
    assert.are.equal(1, shortage, helper.sh("cat " .. log))
    assert.are.equal("HTTP/1.1 200 OK", status_line(held, key))
    -- The connections it had no descriptor for were answered at once, and closed.
    local answered_503 = 0
    for _, c in ipairs(idle) do
      c:settimeout(0.2)
      if (c:receive("*l")) == "HTTP/1.1 503 Service Unavailable" then answered_503 = answered_503 + 1 end
    end
    assert.is_true(answered_503 >= 30, answered_503 .. " of 40 connections answered with 503")
    -- A client that sends its request: the 503, or (TCP) a reset when its request came
    -- after sbxd closed the connection; never a hang.
    local err = helper.error_of(sbx.list, { url = "http://127.0.0.1:" .. port, api_key = key })
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    if err.status then
      assert.are.equal(503, err.status)
      assert.matches("out of file descriptors", err.message)
    end

    held:close()
    for _, c in ipairs(idle) do c:close() end
    -- Once the connections are gone (sbxd sees them close), it accepts as before.
    assert.is_true(helper.eventually(function()
      return pcall(lists, "http://127.0.0.1:" .. port, key)
    end, 3))
    daemon:stop()
    helper.sh("rm -rf " .. quote(dir))
  end)
end)
