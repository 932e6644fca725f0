--- Test support: real sbxd daemons and process facts. No fakes: every spec talks to a
-- real sbxd over a real socket.
local core = require "sbx.core"

local M = {}

M.SBXD = assert(os.getenv("SBX_SBXD"), "SBX_SBXD must point at the sbxd under test")

--- Starts a private sbxd. opts.tcp (default true): 127.0.0.1 with a kernel-chosen port and
-- a random key; else a unix socket in a fresh directory. Returns a table with url, key,
-- pid, daemon, and stop().
function M.sbxd(opts)
  opts = opts or {}
  local key = opts.key or core.random_hex(16)
  local args, dir
  if opts.tcp == false then
    dir = assert(core.mkdtemp("/tmp/sbx-spec-"))
    args = { "--listen", "unix:" .. dir .. "/sbxd.sock" }
  else
    args = { "--listen", "127.0.0.1:0" }
  end
  args[#args + 1] = "--api-key"
  args[#args + 1] = key
  args[#args + 1] = "--quiet"
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
  local daemon, line = core.spawn_daemon(M.SBXD, args, 10)
  assert(daemon, line)
  local addr = assert(line:match("^ready (%S+)"), "unexpected ready line: " .. line)
  local url = addr:match("^unix:") and addr or ("http://" .. addr)
  return {
    url = url, key = key, daemon = daemon, pid = daemon:pid(),
    stop = function()
      daemon:stop()
      if dir then os.remove(dir .. "/sbxd.sock"); os.remove(dir) end
    end,
  }
end

--- For the tests of one describe block: an sbxd (`sbxd_opts` as for M.sbxd) and a sandbox
-- on it, made by busted's `setup` and gone by its `teardown` (both passed in: busted
-- keeps them in the spec's environment, not in a module's). The returned table holds
-- server, opts ({url, api_key}) and box once the block runs.
function M.sandbox_per_block(setup, teardown, sbxd_opts)
  local ctx = {}
  setup(function()
    ctx.server = M.sbxd(sbxd_opts)
    ctx.opts = { url = ctx.server.url, api_key = ctx.server.key }
    ctx.box = require("sbx").create(ctx.opts)
  end)
  teardown(function()
    ctx.box:close()
    ctx.server.stop()
  end)
  return ctx
end

-- Tools the specs run (ps, ls, pgrep) are not under test: they run without the sanitizer
-- runtime that `make check` preloads into lua5.4.
local PLAIN = "unset LD_PRELOAD ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; "

--- Output of a shell command, trailing newline removed.
function M.sh(cmd)
  local f = assert(io.popen(PLAIN .. cmd))
  local out = f:read("a")
  f:close()
  return (out:gsub("\n$", ""))
end

--- An `env` command line for a child Lua process of this one: it loads the same sbx
-- (LUA_PATH, LUA_CPATH, SBX_SBXD) under the same sanitizer runtime as this one, if any,
-- with the variables named in `unset` removed and `vars` (name -> value) set. Followed
-- by the program and its arguments.
function M.lua_env(vars, unset)
  local parts = { "env" }
  for _, name in ipairs(unset or {}) do parts[#parts + 1] = "-u " .. name end
  for _, name in ipairs { "LD_PRELOAD", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS" } do
    parts[#parts + 1] = name .. "=" .. M.q(os.getenv(name) or "")
  end
  parts[#parts + 1] = "LUA_PATH=" .. M.q(package.path)
  parts[#parts + 1] = "LUA_CPATH=" .. M.q(package.cpath)
  parts[#parts + 1] = "SBX_SBXD=" .. M.q(M.SBXD)
  for k, v in pairs(vars or {}) do parts[#parts + 1] = k .. "=" .. M.q(v) end
  return table.concat(parts, " ")
end

--- Waits up to `seconds` (default 10) for `fn` to return a true value, sleeping 50 ms
-- between tries, and returns it; raises "timed out waiting for WHAT" after.
function M.wait_for(fn, what, seconds)
  local deadline = core.now() + (seconds or 10)
  while core.now() < deadline do
    local v = fn()
    if v then return v end
    M.sleep(0.05)
  end
  error("timed out waiting for " .. what)
end

--- A TCP port nobody listens on now at loopback address `addr` (default 127.0.0.1).
function M.free_port(addr)
  return tonumber(M.sh(([[python3 -c 'import socket; s=socket.socket(); ]]
    .. [[s.bind(("%s", 0)); print(s.getsockname()[1])']]):format(addr or "127.0.0.1")))
end

--- A fault no client makes: the kernel destroys the TCP connections to `port` (ss -K,
-- which needs CAP_NET_ADMIN and a kernel with socket destroy), the client's ends; with
-- `both`, the server's too, and the bytes they had not read yet with them (what a proxy
-- that restarts loses). How many sockets it destroyed.
function M.destroy_connections(port, both)
  local filter = both and "( dport = :%s or sport = :%s )" or "( dport = :%s )"
  return tonumber(M.sh(("ss -H -K -t state established '%s' 2>/dev/null | wc -l")
    :format(filter:format(port, port))))
end

--- `times` times: drives sbx (its tasks included) for `every` seconds, then has the kernel
-- cut both ends of every connection to `port`. Returns how many connections it cut (0
-- where ss -K cannot destroy sockets).
function M.cut_repeatedly(port, times, every)
  local step = require("sbx").step
  local cut = 0
  for _ = 1, times do
    local t0 = core.now()
    while core.now() - t0 < every do step(0.01) end
    cut = cut + M.destroy_connections(port, true)
  end
  return cut
end

--- An nginx of a spec's own, run from `dir` (its nginx.conf written there, with --prefix
-- `dir`): `cmd`, its command line; `pid_file`; start(), which raises what nginx says
-- when it does not start; stop(), which returns once nginx is gone.
function M.nginx(dir)
  local n = {
    cmd = ("nginx -p %s -c %s/nginx.conf -e %s/error.log"):format(M.q(dir), M.q(dir), M.q(dir)),
    pid_file = dir .. "/nginx.pid",
  }
  function n.start()
    local out = M.sh(n.cmd .. " 2>&1")
    assert(out == "", out)
  end
  function n.stop()
    M.sh(n.cmd .. " -s stop 2>/dev/null")
    M.wait_for(function()
      return M.sh("test -e " .. M.q(n.pid_file) .. " || echo gone") == "gone"
    end, "nginx to stop")
  end
  return n
end

--- `s` quoted for the shell, as one word.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- The bytes of the file at `path`; nil when it cannot be read.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Writes the bytes `s` to the file at `path`.
function M.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

--- The sha256 of `bytes`, in hex (by sha256sum, not under test).
function M.sha256(bytes)
  local path = os.tmpname()
  M.write_file(path, bytes)
  local sum = M.sh("sha256sum " .. path .. " | cut -d' ' -f1")
  os.remove(path)
  return sum
end

--- The median and p99 of the numbers `samples` (sorted in place).
function M.summary(samples)
  table.sort(samples)
  local function percentile(p) return samples[math.max(1, math.ceil(#samples * p))] end
  return { median = percentile(0.5), p99 = percentile(0.99), min = samples[1],
    max = samples[#samples] }
end

--- n random bytes (/dev/urandom): data in which a byte lost, doubled or moved shows.
function M.random_bytes(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local bytes = f:read(n)
  f:close()
  return bytes
end

--- Blocks the whole process for `seconds`, sbx included (nothing steps its loop).
function M.sleep(seconds)
  M.sh("sleep " .. seconds)
end

local ticks -- clock ticks a second, asked for once, when first needed

--- CPU seconds a process has used (user + system), from /proc/PID/stat.
function M.cpu_seconds(pid)
  local user, system = M.cpu_split(pid)
  return user + system
end

--- CPU seconds a process has used so far: in user mode, and in the kernel.
function M.cpu_split(pid)
  local f = assert(io.open("/proc/" .. pid .. "/stat"))
  local stat = f:read("a")
  f:close()
  -- fields after the command's name (which may hold spaces) in parentheses
  local fields = {}
  for v in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = v end
  ticks = ticks or tonumber(M.sh("getconf CLK_TCK")) or 100
  return tonumber(fields[12]) / ticks, tonumber(fields[13]) / ticks
end

--- This process's pid.
function M.self_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("a"):match("^(%d+)")
  f:close()
  return pid
end

--- Runs fn() and returns its wall seconds (by `now`), the CPU seconds this process spent,
--- and those process `pid` spent (nil without one).
function M.measure(now, fn, pid)
  collectgarbage()
  local self = M.self_pid()
  local c0, s0, t0 = M.cpu_seconds(self), pid and M.cpu_seconds(pid), now()
  fn()
  local wall = now() - t0
  return wall, M.cpu_seconds(self) - c0, pid and M.cpu_seconds(pid) - s0
end

--- Number of open file descriptors of a process.
-- The counting shell's own output pipe is left out: when the process counted is this one,
-- it may still hold that pipe's write end for a moment after spawning the shell.
function M.fd_count(pid)
  return tonumber(M.sh(("own=$(readlink /proc/$$/fd/1); n=0; for f in /proc/%d/fd/*; do "
    .. "[ \"$(readlink $f)\" = \"$own\" ] || n=$((n+1)); done; echo $n"):format(pid)))
end

--- Resident set size of a process in KiB.
function M.rss_kib(pid)
  local f = assert(io.open("/proc/" .. pid .. "/status"))
  local status = f:read("a")
  f:close()
  return tonumber(status:match("VmRSS:%s*(%d+)"))
end

--- Whether a process with this pid exists (and is not a zombie).
function M.alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("a")
  f:close()
  return stat:match("^%d+ %b() (%a)") ~= "Z"
end

--- Pids of processes whose command line matches a pattern (pgrep -f). The first
-- character goes in brackets so the shell running pgrep does not match itself.
function M.pgrep(pattern)
  local regex = "[" .. pattern:sub(1, 1) .. "]" .. pattern:sub(2)
  local out = M.sh("pgrep -f -- '" .. regex .. "' || true")
  local pids = {}
  for pid in out:gmatch("%d+") do pids[#pids + 1] = tonumber(pid) end
  return pids
end

--- Polls `fn` until it returns true or `seconds` pass; returns its last answer.
function M.eventually(fn, seconds)
  local deadline = core.now() + (seconds or 2)
  repeat
    if fn() then return true end
    core.step(0.02)
  until core.now() > deadline
  return fn()
end

--- Steps sbx until task `t` ends, `seconds` at most; one still running then is cancelled,
-- and the spec fails with `why` (a wait that never ends must not stall the suite).
function M.task_ends_within(t, seconds, why)
  local sbx = require "sbx"
  local ended = M.eventually(function() sbx.step(0.02) return t:status() ~= "running" end, seconds)
  if not ended then t:cancel() end
  assert(ended, why)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_VALUE = {}
for i = 1, #B64 do B64_VALUE[B64:byte(i)] = i - 1 end

--- Decodes base64 (specs read raw SSE events with it); nil for a malformed string.
function M.b64decode(s)
  if #s % 4 ~= 0 then return nil end
  local out = {}
  for i = 1, #s, 4 do
    local a, b, c, d = s:byte(i, i + 3)
    local va, vb = B64_VALUE[a], B64_VALUE[b]
    local vc, vd = B64_VALUE[c] or (c == 61 and 0), B64_VALUE[d] or (d == 61 and 0)
    if not (va and vb and vc and vd) then return nil end
    local n = ((va * 64 + vb) * 64 + vc) * 64 + vd
    local bytes = string.char(n >> 16, (n >> 8) & 255, n & 255)
    out[#out + 1] = bytes:sub(1, d ~= 61 and 3 or c ~= 61 and 2 or 1)
  end
  return table.concat(out)
end

--- Catches the error a function raises (nil when it raises none).
function M.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then return nil end
  return err
end

return M
