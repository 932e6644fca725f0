--- box.commands: running commands in a sandbox (docs/PROTOCOL.md, "Processes").
local core = require "sbx.core"
local cjson = require "cjson"
local check = require "sbx.check"
local errors = require "sbx.errors"
local Handle = require "sbx.handle"
local Session = require "sbx.session"
local Stream = require "sbx.stream"
local transport = require "sbx.transport"
local wait = require "sbx.task"

local Commands = {}
Commands.__index = Commands
Commands.__name = "sbx.Commands"

local RUN_OPTIONS = {
  cwd = "text", env = "env", user = "label", timeout = "duration",
  request_timeout = "duration", stdin = "string",
  on_stdout = "function", on_stderr = "function", lines = "boolean", tag = "label",
  background = "boolean",
}

local SPAWN_OPTIONS = {
  cwd = "text", env = "env", user = "label", timeout = "duration",
  request_timeout = "duration", on_stdout = "function", on_stderr = "function", tag = "label",
  pty = "table",
}

function Commands.new(box)
  -- the start request's URL, made once: a run builds no string it does not send
  return setmetatable({ box = box, start_url = box.client:url_of(box:path("/processes")) }, Commands)
end

-- The fields of a start request, filled anew for every run: a run leaves no table of
-- its request behind.
local BODY = {}

--- The JSON text of a start request: encoded once, however often the request is sent.
-- With a callback, a command's `timeout` is an idle timeout: every chunk starts it over.
local function streams(opts)
  return opts.on_stdout ~= nil or opts.on_stderr ~= nil
end

-- A run's stdin up to this size goes in its start request; a longer one is written
-- through the stdin route while the command runs, as send_stdin writes: no request body
-- has to hold it (sbxd's --max-body), and it is not base64'd.
local STDIN_IN_START = 64 * 1024

--- Whether run writes opts.stdin while the command runs rather than in its start.
local function feeds_stdin(opts)
  return opts.stdin ~= nil and #opts.stdin > STDIN_IN_START
end

--- Puts a start's command fields in `t` (a run's body, a session's start), the bytes
-- among them as JSON takes them (transport.bytes); returns t.
local function put_command(t, cmd, opts)
  t.cmd, t.cwd, t.env = transport.bytes(cmd), transport.bytes(opts.cwd), transport.bytes_map(opts.env)
  t.user, t.tag = opts.user, opts.tag
  return t
end

local function start_body(cmd, opts)
  local b = put_command(BODY, cmd, opts)
  b.background = opts.background or nil
  local timeout = (opts.timeout or 0) > 0 and opts.timeout or nil
  if streams(opts) then b.idle_timeout = timeout else b.timeout = timeout end
  if feeds_stdin(opts) then
    b.stdin_open = not opts.background or nil -- a background one's is open without stdin bytes
  else
    b.stdin = opts.stdin and core.b64encode(opts.stdin) or nil
  end
  local json = cjson.encode(b)
  for k in pairs(b) do b[k] = nil end
  return json
end

--- Checks that a public method was called on box.commands (box.commands:run(), not .run())
-- of an open sandbox.
local function check_commands(fname, commands)
  check.self(fname, commands, Commands, "box.commands", "box.commands:%s()")
  commands.box:ensure_open(fname)
end

--- Writes `data` to process `pid`'s stdin, then closes it. Returns nothing when that is
-- done, or when the command exited or closed its stdin first (the rest goes nowhere, as
-- with a pipe); otherwise the error.
local function write_whole_stdin(commands, pid, data)
  local ok, err = pcall(function()
    commands:send_stdin(pid, data)
    commands:close_stdin(pid)
  end)
  if ok or errors.is(err, "ConflictError") or errors.is(err, "NotFoundError") then return end
  return err
end

--- Follows foreground stream `s` to its end while a task of its own writes `data` to the
-- command's stdin, then closes it: the command may write output before it has read all
-- its input, and that output must be taken meanwhile. A write that fails otherwise
-- closes the stream (sbxd kills the command), and run raises its error.
local function follow_feeding(commands, s, data)
  local failure, followed
  local writer = wait.go(function()
    local err = write_whole_stdin(commands, s.pid, data)
    if not err or followed then return end
    failure = err
    s:close()
  end)
  local ok, err = pcall(s.follow, s)
  followed = true
  writer:cancel() -- the command ended, or the run failed: what is left of its stdin goes nowhere
  if failure then error(failure, 0) end
  if not ok then error(err, 0) end
end

--- A background run's stdin too long for its start: a task writes it, then closes the
-- stdin, while anything drives the loop. A write that fails otherwise (not cancelled by
-- h:kill) kills the process, and h:wait raises its error.
local function feed_in_background(commands, h, data)
  return wait.go(function()
    local err = write_whole_stdin(commands, h.pid, data)
    if not err or errors.is(err, "CancelledError") then return end
    h.feed_failure = err
    pcall(commands.kill, commands, h.pid)
  end)
end

--- Runs `cmd` with /bin/sh -c in the sandbox and returns its CommandResult; with
-- `background`, a handle at once (once its pid is known).
function Commands:run(cmd, opts)
  check_commands("run", self)
  check.value("run", "cmd", cmd, "nonempty")
  opts = check.options("run", opts, RUN_OPTIONS)
  if opts.background then
    local s = Stream.start(self, start_body(cmd, opts), opts, false)
    local ok, err = pcall(s.follow, s, true)
    if not ok then
      s:close()
      error(err, 0)
    end
    local h = Handle.new(self, s, s.pid)
    if feeds_stdin(opts) then h.feeder = feed_in_background(self, h, opts.stdin) end
    return h
  end
  local s <close> = Stream.start(self, start_body(cmd, opts), opts, true)
  if feeds_stdin(opts) then
    s:follow(true) -- its start: the pid the writes go to
    follow_feeding(self, s, opts.stdin)
  else
    s:follow()
  end
  local result = s:result()
  Stream.raise_if_cut_short(result, opts)
  return result
end

local function check_pty(pty)
  if pty == nil then return nil end
  local out = {}
  for k, v in pairs(pty) do
    if k ~= "cols" and k ~= "rows" then
      errors.raise("InvalidArgumentError", ("spawn: unknown pty option %s"):format(tostring(k)))
    end
    out[k] = check.value("spawn", "pty." .. k, v, "winsize")
  end
  out.cols, out.rows = out.cols or 80, out.rows or 24
  return out
end

--- Starts `cmd` with /bin/sh -c in an interactive session (sbx/session.lua): returns the
-- session once the process started. `timeout` is a total limit, off by default.
function Commands:spawn(cmd, opts)
  check_commands("spawn", self)
  check.value("spawn", "cmd", cmd, "nonempty")
  opts = check.options("spawn", opts, SPAWN_OPTIONS)
  local timeout = (opts.timeout or 0) > 0 and opts.timeout or nil
  local start = put_command({ timeout = timeout, pty = check_pty(opts.pty) }, cmd, opts)
  local request_timeout = opts.request_timeout or self.box.request_timeout
  return Session.spawn(self, start, opts, { request_timeout = request_timeout })
end

--- The explicit streaming entry point: the same call as run.
function Commands:run_stream(cmd, opts)
  check_commands("run_stream", self)
  return self:run(cmd, opts)
end

--- The sandbox's running processes: { pid=, cmd=, cwd=, user=, tag=, started_at= } each.
function Commands:list()
  check_commands("list", self)
  local doc = self.box.client:call("GET", self.box:path("/processes"))
  local out = {}
  for i, p in ipairs(type(doc.processes) == "table" and doc.processes or {}) do
    out[i] = { pid = transport.int(p.pid), cmd = transport.bytes_of(p.cmd), cwd = transport.bytes_of(p.cwd),
      user = transport.str(p.user), tag = transport.str(p.tag), started_at = tonumber(p.started_at) }
  end
  return out
end

--- SIGKILL to the process group of a running process: true, or false when no process of
-- this sandbox by that pid runs (exited, or never one). A call cut on its way is sent
-- again with its key: sbxd answers it true again when the sending before killed it.
function Commands:kill(pid)
  check_commands("kill", self)
  pid = check.value("kill", "pid", pid, "count")
  local doc = self.box.client:call_keyed("POST", self.box:path("/processes/" .. pid .. "/signal"),
    { signal = "SIGKILL" })
  return doc.killed == true
end

-- A write longer than this goes as several requests, in order: sbxd bounds a request's
-- body (--max-body, 16 MiB by default), not what a process may be sent. A smaller bound
-- (413) makes the pieces smaller, down to STDIN_PIECE_MIN.
local STDIN_PIECE, STDIN_PIECE_MIN = 8 * 1024 * 1024, 4096

--- Writes `data` to the stdin of background process `pid` (it waits while the pipe is
-- full; the bytes are never dropped). A call cut on its way is sent again: sbxd takes it
-- once (docs/PROTOCOL.md "stdin").
function Commands:send_stdin(pid, data)
  check_commands("send_stdin", self)
  pid = check.value("send_stdin", "pid", pid, "count")
  check.value("send_stdin", "data", data, "string")
  local path, client = self.box:path("/processes/" .. pid .. "/stdin"), self.box.client
  if data == "" then -- (sbxd's checks alone: an unknown pid, a closed stdin)
    client:call_keyed("POST", path, data, true)
    return
  end
  local piece, at = STDIN_PIECE, 1
  while at <= #data do
    local ok, err = pcall(client.call_keyed, client, "POST", path, data:sub(at, at + piece - 1), true)
    if ok then
      at = at + piece
    elseif type(err) == "table" and err.status == 413 and piece > STDIN_PIECE_MIN then
      piece = piece // 4 -- sbxd takes smaller bodies (--max-body); it wrote nothing of this one
    else
      error(err, 0)
    end
  end
end

--- Closes the stdin of background process `pid` (EOF), after the writes before it.
function Commands:close_stdin(pid)
  check_commands("close_stdin", self)
  pid = check.value("close_stdin", "pid", pid, "count")
  self.box.client:call_keyed("DELETE", self.box:path("/processes/" .. pid .. "/stdin"))
end

--- A handle of process `pid`, making no request: its wait attaches and gets the
-- process's whole output from the start (as far as sbxd's log holds it), then follows.
function Commands:connect(pid)
  check_commands("connect", self)
  pid = check.value("connect", "pid", pid, "count")
  local s = Stream.attach(self, pid, {})
  return Handle.new(self, s, pid)
end

return Commands
