--- box.commands: running commands in a sandbox (docs/PROTOCOL.md, "Processes").
local core = require "sbx.core"
local cjson = require "cjson"
local check = require "sbx.check"
local errors = require "sbx.errors"
local transport = require "sbx.transport"
local wait = require "sbx.task"

local Commands = {}
Commands.__index = Commands
Commands.__name = "sbx.Commands"

local RUN_OPTIONS = {
  cwd = "string", env = "env", user = "string", timeout = "duration",
  request_timeout = "duration", stdin = "string",
  on_stdout = "function", on_stderr = "function", lines = "boolean", tag = "string",
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

local function start_body(cmd, opts)
  local b = BODY
  b.cmd, b.cwd, b.env, b.user, b.tag = cmd, opts.cwd, opts.env, opts.user, opts.tag
  local timeout = (opts.timeout or 0) > 0 and opts.timeout or nil
  if streams(opts) then b.idle_timeout = timeout else b.timeout = timeout end
  b.stdin = opts.stdin and core.b64encode(opts.stdin) or nil
  local json = cjson.encode(b)
  for k in pairs(b) do b[k] = nil end
  return json
end

-- One running command's stream: output so far, its callbacks, and how it ended.
local Run = {}
Run.__index = Run

local function new_run(opts, request_timeout, client)
  return setmetatable({ opts = opts, request_timeout = request_timeout, client = client,
    resends = client:resends(wait.deadline(request_timeout)) }, Run)
end

local EVENT = core.EVENT
local CALLBACK_OPTION = { [EVENT.STDOUT] = "on_stdout", [EVENT.STDERR] = "on_stderr" }

function Run:result()
  local e = self.ended or {}
  return {
    stdout = self.stdout, stderr = self.stderr,
    exit_code = transport.int(e.exit_code), error = transport.str(e.error), pid = self.pid,
  }
end

--- With `lines`: hands `cb` each complete line of `data` (with its "\n"), the start of
-- the first one joined to what the stream's chunks before left unterminated; keeps the
-- unterminated end for the next chunk. Pieces of a long line are joined once.
function Run:deliver_lines(option, cb, data)
  local held = self.held and self.held[option]
  local from = 1
  while true do
    local nl = data:find("\n", from, true)
    if not nl then break end
    if held then
      held[#held + 1] = data:sub(from, nl)
      self.held[option] = nil
      local line = table.concat(held)
      held = nil
      cb(line)
    else
      cb(data:sub(from, nl))
    end
    from = nl + 1
  end
  if from > #data then return end
  self.held = self.held or {}
  held = self.held[option] or {}
  held[#held + 1] = data:sub(from)
  self.held[option] = held
end

--- With `lines`, at the end: each stream's last line, unterminated, stdout's first.
function Run:flush_lines()
  for _, option in ipairs { "on_stdout", "on_stderr" } do
    local held = self.held and self.held[option]
    if held then
      self.held[option] = nil
      self.opts[option](table.concat(held))
    end
  end
end

--- Handles one SSE event of the process stream. The core collects the output itself
-- (one buffer per channel, taken at the end); chunks come as events only for callbacks.
function Run:on_event(ev)
  local option = CALLBACK_OPTION[ev.event]
  local cb = option and self.opts[option]
  if option and self.opts.timeout and self.opts.timeout > 0 then
    self.deadline = self:stream_deadline() -- an idle timeout: the backstop starts over too
  end
  if cb and self.opts.lines then
    self:deliver_lines(option, cb, ev.data)
  elseif cb then
    cb(ev.data)
  elseif ev.event == EVENT.START then
    local ok, doc = pcall(cjson.decode, ev.data)
    doc = ok and type(doc) == "table" and doc or {}
    self.pid = transport.int(doc.pid)
    -- sbxd sends something at least every `keepalive` seconds while it lives: hearing
    -- nothing for three of them (and a second) means it is gone or stopped.
    local keepalive = tonumber(doc.keepalive)
    if keepalive and keepalive > 0 then self.silence = 3 * keepalive + 1 end
  elseif ev.event == EVENT.END then
    local ok, doc = pcall(cjson.decode, ev.data)
    if not ok or type(doc) ~= "table" or not math.tointeger(doc.exit_code) then
      errors.raise("SandboxError", "sbxd sent a malformed end event: " .. ev.data:sub(1, 100))
    end
    self.ended = doc
    if self.opts.lines then self:flush_lines() end
  end
end

--- The deadline once the stream has started: the server enforces the command's
-- timeout; this is the client's backstop in case the server never says so.
function Run:stream_deadline()
  local t = self.opts.timeout
  if t and t > 0 then return wait.deadline(t + math.max(self.request_timeout, 5)) end
  return nil
end

--- Handles one core event; returns true once the response is over. The stream's last
-- chunk follows the end event at once; reading it keeps the connection reusable.
function Run:on_core_event(ev)
  if ev.type == "head" then
    self.resends = nil -- a server answered: the request is never sent again
    if ev.status == 200 then self.deadline = self:stream_deadline() end
  elseif ev.type == "event" then
    self:on_event(ev)
  elseif ev.type == "done" then
    if ev.status < 200 or ev.status > 299 then transport.raise_status(ev.status, ev.body) end
    if self.ended then return true end
    errors.raise("SandboxError", "the output stream ended before the command's end event")
  elseif ev.type == "error" then
    if self.ended then return true end
    if self.resends and self.client:may_resend(ev, self.resends) then
      self.resend = true -- no server saw the request: run sends it again
      return true
    end
    transport.raise_transport(ev, self.client)
  end
  return false
end

-- How long the stream's last chunk may lag behind the end event before the connection
-- is dropped instead of kept for the next request.
local END_GRACE = 1

--- The bytes the core collected on a channel.
local function output(op, channel)
  local bytes, err = op:output(channel)
  if not bytes then errors.raise("SandboxError", "cannot take the command's output: " .. err) end
  return bytes
end

-- What the core is asked to do with a run's stream: collect the output, and queue its
-- chunks as events only when callbacks want them.
local COLLECT = { collect = true, chunks = false }
local COLLECT_AND_CHUNKS = { collect = true, chunks = true }

--- Starts the command and takes its stream's events until the response is over (or
-- run.resend is set). Any error (transport, timeout, a callback's) closes the connection,
-- which makes sbxd kill the command, and propagates unchanged. Once the end event has
-- come the result is whole: the stream's last chunk, which keeps the connection
-- reusable, is waited for END_GRACE at most; a server that does not send it costs only
-- the connection.
-- One function, not a chain of them: a command in flight waits inside this call, and
-- every frame between its task's function and the yield is kept (a CallInfo and stack
-- room each) for as long as the command runs.
function Run:drive(commands, body)
  local opts = self.opts
  local op <close> = self.client:open_url("POST", commands.start_url, body,
    (opts.on_stdout or opts.on_stderr) and COLLECT_AND_CHUNKS or COLLECT)
  self.deadline = wait.deadline(self.request_timeout)
  while true do
    local evs
    if self.stdout then
      evs = transport.events_until(op, self.deadline)
      if not evs then return end
    else
      evs = transport.next_events(op, self.deadline, "run", self.request_timeout, self.silence)
    end
    for _, ev in ipairs(evs) do
      local over = self:on_core_event(ev)
      if self.ended and not self.stdout then
        -- All output precedes the end event: take it now, the result is complete.
        self.stdout, self.stderr = output(op, EVENT.STDOUT), output(op, EVENT.STDERR)
        self.deadline = wait.deadline(END_GRACE)
      end
      if over then return end
    end
  end
end

--- Raises when the end event says the command did not finish by itself: its timeout, or its
-- sandbox's end (lifetime or kill).
local function raise_if_cut_short(result, opts)
  if result.error == "timeout" and streams(opts) then
    errors.raise("TimeoutError", ("command sent no output for %g s"):format(opts.timeout),
      { result = result })
  elseif result.error == "timeout" then
    errors.raise("TimeoutError", ("command timed out after %g s"):format(opts.timeout),
      { result = result })
  elseif result.error == "sandbox_timeout" then
    errors.raise("SandboxTimeoutError", "the sandbox's lifetime ran out during the command",
      { result = result })
  elseif result.error == "sandbox_killed" then
    errors.raise("NotFoundError", "the sandbox was killed during the command", { result = result })
  end
end

--- Checks that a public method was called on box.commands (box.commands:run(), not .run())
-- of an open sandbox.
local function check_commands(fname, commands)
  check.self(fname, commands, Commands, "box.commands", "box.commands:%s()")
  commands.box:ensure_open(fname)
end

--- Runs `cmd` with /bin/sh -c in the sandbox and returns its CommandResult.
function Commands:run(cmd, opts)
  check_commands("run", self)
  check.value("run", "cmd", cmd, "nonempty")
  opts = check.options("run", opts, RUN_OPTIONS)
  local box = self.box
  local request_timeout = opts.request_timeout or box.request_timeout
  local body, run = start_body(cmd, opts), new_run(opts, request_timeout, box.client)
  repeat
    run.resend = nil
    run:drive(self, body)
  until not run.resend
  local result = run:result()
  raise_if_cut_short(result, opts)
  return result
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
    out[i] = { pid = transport.int(p.pid), cmd = transport.str(p.cmd), cwd = transport.str(p.cwd),
      user = transport.str(p.user), tag = transport.str(p.tag), started_at = tonumber(p.started_at) }
  end
  return out
end

--- SIGKILL to the process group of a running process: true, or false when no process of
-- this sandbox by that pid runs (exited, or never one).
function Commands:kill(pid)
  check_commands("kill", self)
  check.value("kill", "pid", pid, "count")
  local doc = self.box.client:call("POST", self.box:path("/processes/" .. pid .. "/signal"),
    { signal = "SIGKILL" })
  return doc.killed == true
end

return Commands
