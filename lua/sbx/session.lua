--- Interactive sessions (`box.commands:spawn`): a process driven over a WebSocket of
-- subprotocol sbx.v1 (docs/PROTOCOL.md, "Interactive sessions (WebSocket)").
--
-- The session users hold is the core's userdata (csrc/lua/l_session.c): close, __close
-- and __gc are the core's one close, which kills a process that may still run, in the
-- background. This module gives that userdata its fields and methods; what it knows of
-- the session lives in the userdata's user value (`st` below), so that nothing here
-- keeps a session alive: one dropped without close is collected, and its process killed.
--
-- The session's events are taken ("drained") by whatever waits on it: spawn, wait,
-- stdin:write, kill; a read of s.stdout / s.stderr; and, for a session with callbacks,
-- a short task the scheduler starts when it has events and nobody waits (task.pump).
-- One drains at a time; the callbacks run in the coroutine that drains (inside a task
-- they may yield). A cut connection is attached again from the output offset reached.
local core = require "sbx.core"
local cjson = require "cjson"
local check = require "sbx.check"
local errors = require "sbx.errors"
local Stream = require "sbx.stream"
local transport = require "sbx.transport"
local wait = require "sbx.task"

local ops = core.session_ops

local M = {}

-- Events taken per poll, and their bytes: callbacks see output in chunks of this much.
local BATCH, BATCH_BYTES = 16, 32 * 1024

-- A cut connection is attached again after these pauses, doubling, for as long as the
-- request timeout allows from the cut (output received since starts it over).
local RESUME_FIRST, RESUME_MAX = transport.RESUME_FIRST, transport.RESUME_MAX

local CHANNEL = { stdout = 1, stderr = 2 }
local CALLBACK = { "on_stdout", "on_stderr" }

-- The channels of sbx.v1 (csrc/common/wschan.h).
local STATUS, RESIZE = 3, 4
local KILL = '{"signal":"SIGKILL"}'

-- What kill(sig) takes by name (also without "SIG"); a number 1..64 goes as it is.
local SIGNALS = {}
for name in ("SIGTERM SIGINT SIGKILL SIGHUP SIGQUIT SIGUSR1 SIGUSR2 SIGCONT SIGSTOP SIGWINCH "
    .. "SIGALRM SIGPIPE SIGTSTP"):gmatch("%S+") do SIGNALS[name] = true end

local Session = {}   -- methods of the userdata
local Stdin = {}     -- methods of s.stdin
Stdin.__index = Stdin
Stdin.__name = "sbx.SessionStdin"

local function closed_error(fname)
  errors.raise("InvalidArgumentError", ("%s: attempt to use a closed session"):format(fname))
end

local mt = core.session_metatable()

local function is_session(s)
  return getmetatable(s) == mt
end

--- Checks a method's self (s:wait(), not s.wait()) and that the session is open.
local function check_open(fname, s)
  if not is_session(s) then
    errors.raise("InvalidArgumentError",
      ("%s: self must be a session (use session:%s())"):format(fname, fname))
  end
  if ops.closed(s) then closed_error(fname) end
  return ops.state(s)
end

-- ---- failures

local function fail(st, kind, message, fields)
  if not st.failure then st.failure = errors.new(kind, message, fields) end
end

--- Why the connection that starts the process could not be made, or was refused.
local function start_failed(st, ev)
  if ev.status and ev.status > 0 then
    fail(st, errors.kind_for(ev.status), ("sbxd refused the session (HTTP %d)"):format(ev.status),
      { status = ev.status })
  else
    fail(st, "SandboxError", ("cannot reach sbxd at %s: %s"):format(st.url, tostring(ev.message)),
      { unreachable = true })
  end
end

local function cannot_resume(st, why, status)
  fail(st, "SandboxError", ("the session's connection was cut and cannot be resumed: %s"):format(why),
    { status = status })
end

-- ---- events

local function decode(data)
  local ok, doc = pcall(cjson.decode, data)
  if ok and type(doc) == "table" then return doc end
  return nil
end

--- The start status: the pid, and where this connection's output starts.
local function on_start(s, st, doc)
  local pid = transport.int(doc.pid)
  if not pid then return fail(st, "SandboxError", "sbxd sent a start status without a pid") end
  st.pid, st.serial = pid, transport.int(doc.serial)
  local keepalive = tonumber(doc.keepalive)
  if keepalive and keepalive > 0 then ops.keepalive(s, keepalive) end
  local from = transport.int(doc.from) or 0
  if from > (st.offset or 0) then
    cannot_resume(st, ("%d bytes of output were lost (sbxd's log kept them no longer)"):format(
      from - (st.offset or 0)))
  end
  st.offset = from
  if st.attaching then st.attaching, st.cut_at = nil, nil end -- attached again
  st.restarting, st.start_json = nil, nil -- the start is never sent again
  -- where this session's stdin stands on sbxd: what a cut lost goes out again from there
  -- (nil: a server that keeps no count)
  local units = math.type(doc.stdin) and math.tointeger(doc.stdin)
  local ok, err = ops.stdin_resume(s, units and units >= 0 and units or nil)
  if not ok then fail(st, "SandboxError", "cannot send stdin again: " .. tostring(err)) end
end

local function on_status(s, st, data)
  local doc = decode(data)
  local t = doc and doc.type
  if t == "start" then
    on_start(s, st, doc)
  elseif t == "end" then
    if not math.tointeger(doc.exit_code) then
      return fail(st, "SandboxError", "sbxd sent a malformed end status: " .. data:sub(1, 100))
    end
    st.ended = doc
    ops.finished(s)
  elseif t == "stdin" then
    local received = math.type(doc.received) and math.tointeger(doc.received)
    if received and received >= 0 then ops.stdin_counted(s, received) end
  elseif t == "error" then
    local e = type(doc.error) == "table" and doc.error or {}
    st.server_error = { kind = errors.kind_for(nil, transport.str(e.kind)),
      message = transport.str(e.message) or "sbxd reported an error", status = transport.int(e.status) }
  else
    fail(st, "SandboxError", "sbxd sent a malformed status: " .. data:sub(1, 100))
  end
end

--- A connection that starts the process ended before the start status came (`why`;
-- `status`: an HTTP status, 0 for none, when the connection was refused or failed, or
-- sbxd's own in an error status; nil for a close; `reached`: a failed connection's
-- upgrade request had gone out): true when the start is to be sent again, as a cut. A
-- connection that was up may have brought sbxd the start, and the start sent again gets
-- that process (sbxd knows it by the session's writer id); one cut after its upgrade
-- request went out, before the answer, brought none (a run's start is sent again after
-- such a cut too). After such a cut, so is a connection refused for the moment (none,
-- 503 or 504: a proxy restarting) and sbxd's "still starting" (503).
local function start_cut(st, why, status, reached)
  local again
  if status then
    again = (st.restarting and (status <= 0 or transport.PASSING[status])) or (status <= 0 and reached)
  else again = st.open end
  if not again then return false end
  st.cut, st.restarting = why, true
  return true
end

--- The connection closed: the end, an error sbxd reported, or a cut.
local function on_closed(st, ev)
  if st.ended then return end
  local e = st.server_error
  if e then
    st.server_error = nil
    if not st.pid and e.status and start_cut(st, e.message, e.status) then return end
    return fail(st, e.kind, e.message, { status = e.status }) -- the status a POST start would get
  end
  if ev.code == 1003 or ev.code == 1008 or ev.code == 1009 or ev.code == 1011 then
    return fail(st, "SandboxError", ("sbxd closed the session (%d): %s"):format(ev.code, ev.reason))
  end
  local why = ev.reason ~= "" and ev.reason or "the connection closed"
  if not st.pid and not start_cut(st, why) then
    return fail(st, "SandboxError", ("the connection to sbxd at %s closed before the process "
      .. "started%s"):format(st.url, ev.reason ~= "" and ": " .. ev.reason or ""))
  end
  st.cut = why
end

local function on_error(st, ev)
  if not st.pid then
    if start_cut(st, ev.status > 0 and ("the start was answered HTTP %d"):format(ev.status) or ev.message,
      ev.status, ev.reached) then return end
    return start_failed(st, ev)
  end
  -- An attach after a cut that could not connect, or was cut before it was up (nginx
  -- restarting), or was answered 503/504 (transport.PASSING): tried again within the
  -- cut's window. Any other status (404: sbxd no longer keeps the process; 401; a
  -- proxy's 502: the node is down) is final.
  if ev.status <= 0 or transport.PASSING[ev.status] then
    st.cut = ev.status > 0 and ("the attach was answered HTTP %d"):format(ev.status) or ev.message
    return
  end
  cannot_resume(st, ("sbxd refused the attach (HTTP %d) (after: %s)"):format(ev.status,
    tostring(st.first_cut)), ev.status)
end

--- Collects output and hands it to the callbacks.
local function on_output(st, ch, data)
  Stream.add_part(st, ch, data)
  st.offset = (st.offset or 0) + #data
  st.cut_at = nil -- progress: a later cut has a window of its own
  local cb = st.opts[CALLBACK[ch]]
  if cb then
    st.in_callback = coroutine.running() -- (Session.wait tells a wait from inside it)
    cb(data)
    st.in_callback = false
  end
end

local function on_event(s, st, ev)
  local t = ev.type
  local ch = CHANNEL[t]
  if ch then
    on_output(st, ch, ev.data)
  elseif t == "status" then
    on_status(s, st, ev.data)
  elseif t == "closed" then
    on_closed(st, ev)
  elseif t == "error" then
    on_error(st, ev)
  elseif t == "open" then
    st.open = true
  end
end

local function take_events(s, st)
  -- while spawn waits for the pid: one at a time, and none past it (by this drain or the
  -- pump's), so that no callback runs before spawn returned the session (one may use it)
  while not (st.spawning and st.pid) do
    local evs, left = ops.poll(s, st.spawning and 1 or BATCH, BATCH_BYTES)
    for i = 1, #evs do on_event(s, st, evs[i]) end
    if left == 0 then return end
  end
end

--- Takes the session's queued events, one coroutine at a time (false when another is at
-- it: it pokes the session when done, so the waiters look again). An error a callback
-- raises closes the session (its process is killed) and is the session's failure.
local function drain(s, st)
  if st.draining then
    st.contended = true
    return false
  end
  st.draining = true
  local ok, err = pcall(take_events, s, st)
  st.draining = false
  if st.contended and not ops.closed(s) then
    st.contended = nil
    ops.poke(s)
  end
  if not ok then
    -- a callback's error stops the process; the session's next call raises it again
    if not st.failure then st.failure = err end
    st.in_callback = false
    if not st.ended then ops.control(s, STATUS, KILL) end
    error(err, 0)
  end
  return true
end

-- ---- resuming

local function window(st)
  return st.request_timeout > 0 and st.request_timeout or 30
end

--- A cut connection: once its pause is over, attach again from the offset reached. The
-- attach must be up (its start status in) within the request timeout of the cut.
local function resume(s, st)
  local now = core.now()
  if not st.cut_at then
    st.cut_at, st.first_cut, st.pause, st.retry_at = now, st.cut, nil, now + RESUME_FIRST
  end
  if now > st.cut_at + window(st) then
    return cannot_resume(st, ("not within %g s (%s)"):format(window(st), tostring(st.first_cut)))
  end
  if st.box.client:embedded_gone() then
    return cannot_resume(st, ("the embedded sbxd exited, and its sandboxes with it (%s)"):format(
      tostring(st.first_cut)))
  end
  if ops.connected(s) ~= "idle" or now < st.retry_at then return end
  local path = st.base_path .. "/ws" -- no pid yet: the start, sent again
  if st.pid then
    path = ("%s/%d/ws?offset=%d"):format(st.base_path, st.pid, st.offset or 0)
    if st.serial then path = path .. "&serial=" .. st.serial end
  end
  st.open = nil
  local ok, why = ops.connect(s, path)
  -- (a start not written before the cut is still queued: it goes on this connection)
  if ok and not st.pid and ops.control_queued(s) == 0 then ok, why = ops.control(s, STATUS, st.start_json) end
  if not ok then return cannot_resume(st, why) end
  st.cut, st.attaching = nil, true
  st.pause = math.min((st.pause or RESUME_FIRST) * 2, RESUME_MAX)
  st.retry_at = now + st.pause
end

--- Whether the session is between a cut and the start status of its attach.
local function resuming(st)
  return (st.cut or st.attaching) and not (st.failure or st.ended)
end

--- Takes what came, and attaches again after a cut.
local function advance(s, st)
  if ops.closed(s) then return end
  drain(s, st)
  if resuming(st) then resume(s, st) end
end

--- Waits, taking events, until done() holds; raises the session's failure, or
-- TimeoutError when `deadline` (core.now() seconds, or nil) passes first with `what`,
-- unless `later` (optional) then gives a new deadline.
local function drive(s, st, fname, done, deadline, what, later)
  while true do
    if ops.closed(s) then closed_error(fname) end
    advance(s, st)
    if done() then return end
    if st.failure then error(st.failure, 0) end
    local wake = deadline
    if resuming(st) then
      local retry = st.cut and st.retry_at or st.cut_at + window(st)
      if not wake or retry < wake then wake = retry end
    end
    if not wait.wait(s, wake) and deadline and core.now() >= deadline then
      deadline = later and later()
      if not deadline then errors.raise("TimeoutError", what) end
    end
  end
end

--- The task the scheduler starts for a session with callbacks that has events and
-- nobody waiting: it hands them over, and follows a cut until attached again. Its
-- failures are the session's, raised by the session's next call.
local function pump(s)
  local st = ops.state(s)
  pcall(function()
    advance(s, st)
    while resuming(st) and not ops.closed(s) do
      wait.wait(s, st.cut and st.retry_at or st.cut_at + window(st))
      advance(s, st)
    end
  end)
end

--- Whether the session's connection is down (cut, or ended): the pump of a session
-- without callbacks runs only then, not for every output event.
local function disconnected(s)
  return ops.connected(s) == "idle" and not ops.closed(s)
end

-- ---- fields

--- The output received so far on channel ch. Without callbacks, what is queued is taken
-- first (no callback runs: a field read never yields); with callbacks, what they got.
local function collected(s, st, ch)
  if not ops.closed(s) and not st.has_callbacks and not st.draining then drain(s, st) end
  return Stream.joined(st, ch)
end

local FIELDS = {
  pid = function(_, st) return st.pid end,
  stdout = function(s, st) return collected(s, st, 1) end,
  stderr = function(s, st) return collected(s, st, 2) end,
  stdin = function(_, st) return st.stdin end,
}

local function index(s, k)
  local field = FIELDS[k]
  if field then return field(s, ops.state(s)) end
  return Session[k]
end

-- ---- methods

--- The CommandResult, once the end status came.
local function result(s, st)
  local e = st.ended
  local signal = transport.str(e.signal)
  return {
    stdout = collected(s, st, 1), stderr = collected(s, st, 2), pid = st.pid,
    exit_code = transport.int(e.exit_code), error = transport.str(e.error), signal = signal,
  }
end

--- Waits for the process's end (resuming a paused sandbox): its CommandResult, whatever
-- the exit code (a session's process ends by a signal as often as not: ^C, kill); raises
-- TimeoutError when its timeout killed it, SandboxError when the connection was cut and
-- could not be resumed.
function Session.wait(s)
  local st = check_open("wait", s)
  if st.in_callback == coroutine.running() then
    -- the end comes through the very drain that runs this callback: it would never come
    errors.raise("InvalidArgumentError", "wait: a session's callback cannot wait for its own session")
  end
  local backstop = math.max(st.request_timeout, 5)
  -- the process cannot end while its sandbox is paused: a wait resumes it, as every call
  -- on a command does
  if st.ended == nil then st.box:resume_for_wait() end
  local t = st.opts.timeout
  local deadline = t and t > 0 and st.started_at + t + backstop or nil
  -- sbxd holds the timeout while the sandbox is paused: a pause since the last asking
  -- (at the first, any) starts the backstop over, the timeout having at most its length left
  local function held_by_pause()
    local paused = st.box:paused_more_than(st.paused_mark or 0)
    if not paused then return nil end
    st.paused_mark = paused
    return wait.deadline(t + backstop)
  end
  drive(s, st, "wait", function() return st.ended ~= nil end, deadline,
    ("sbxd did not end the session's process %g s past its timeout"):format(backstop), held_by_pause)
  local r = result(s, st)
  Stream.raise_if_cut_short(r, { timeout = t })
  return r
end

--- Queues a control message, waiting while the control queue is full.
local function send_control(s, st, fname, channel, json)
  while true do
    local ok, err = ops.control(s, channel, json)
    if ok then return end
    if ok == nil then errors.raise("SandboxError", fname .. ": " .. tostring(err)) end
    local written = ops.written(s)
    drive(s, st, fname, function() return ops.written(s) ~= written or st.ended ~= nil end)
  end
end

--- Sends a signal to the process group: "SIGTERM" (default), another name, or a number.
-- True when sent; false when the process had already ended.
function Session.kill(s, sig)
  local st = check_open("kill", s)
  if sig == nil then sig = "SIGTERM" end
  if type(sig) == "number" then
    sig = math.tointeger(sig)
    if not sig or sig < 1 or sig > 64 then
      errors.raise("InvalidArgumentError", "kill: a signal number is an integer 1..64")
    end
  elseif type(sig) ~= "string" then
    errors.raise("InvalidArgumentError", "kill: sig must be a signal name or number, not a " .. type(sig))
  elseif not (SIGNALS[sig] or SIGNALS["SIG" .. sig]) then
    errors.raise("InvalidArgumentError", "kill: unknown signal " .. check.escaped(sig))
  elseif not SIGNALS[sig] then
    sig = "SIG" .. sig
  end
  if not ops.closed(s) then drain(s, st) end
  if st.ended then return false end
  send_control(s, st, "kill", STATUS, cjson.encode({ signal = sig }))
  return true
end

--- Sets the terminal's size (pty sessions only).
function Session.resize(s, cols, rows)
  local st = check_open("resize", s)
  cols = check.value("resize", "cols", cols, "winsize")
  rows = check.value("resize", "rows", rows, "winsize")
  if not st.pty then errors.raise("InvalidArgumentError", "resize: the session has no pty") end
  send_control(s, st, "resize", RESIZE, cjson.encode({ cols = cols, rows = rows }))
end

--- Kills the process (unless it ended) and closes the connection; idempotent. A wait of
-- another task on the session ends, raising that the session is closed.
function Session.close(s)
  if is_session(s) and not ops.closed(s) then
    local st = ops.state(s)
    -- what came before the close stays in s.stdout and s.stderr (no callback is called
    -- from here: a close may run from __close while an error unwinds)
    if not st.has_callbacks and not st.draining then pcall(take_events, s, st) end
  end
  ops.close(s)
  wait.wake(s)
end

--- Bytes of events the session holds for Lua (the scheduler's cost estimate).
Session.backlog = ops.backlog

--- The session of a stdin method's self (s.stdin:write(), not s.stdin.write()).
local function session_of(fname, stdin)
  local s = type(stdin) == "table" and getmetatable(stdin) == Stdin and stdin.session
  if not s then
    errors.raise("InvalidArgumentError",
      ("%s: self must be a session's stdin (use s.stdin:%s())"):format(fname, fname))
  end
  return s
end

--- Writes data (a string of bytes) to the process's stdin; returns once every byte went
-- out to the socket (it yields in a task; blocks driving the loop elsewhere). A process
-- that does not read makes it wait: sbxd stops reading, and the client holds at most
-- 256 KiB of stdin not yet written.
function Stdin.write(stdin, data)
  local s = session_of("write", stdin)
  local st = check_open("write", s)
  check.value("write", "data", data, "string")
  if st.stdin_closed then errors.raise("ConflictError", "write: the session's stdin is closed") end
  local from, n = 1, #data
  local function gone()
    if st.ended then errors.raise("ConflictError", "write: the process has exited") end
  end
  while from <= n do
    gone()
    local k, err = ops.write(s, data, from)
    if not k then errors.raise("SandboxError", "write: " .. tostring(err)) end
    from = from + k
    if from <= n then
      local written = ops.written(s)
      drive(s, st, "write", function() return ops.written(s) ~= written or st.ended ~= nil end)
    end
  end
  local target = ops.accepted(s)
  drive(s, st, "write", function() return ops.written(s) >= target or st.ended ~= nil end)
  if ops.written(s) < target then gone() end
end

--- EOF on the process's stdin (with a pty: the terminal's EOF character), after every
-- byte written before it. Idempotent.
function Stdin.close(stdin)
  local s = session_of("close", stdin)
  local st = check_open("close", s)
  if st.stdin_closed then return end
  st.stdin_closed = true
  local ok, err = ops.eof(s)
  if not ok then errors.raise("SandboxError", "close: " .. tostring(err)) end
end

mt.__index = index
mt.__close = Session.close -- (__gc stays the core's: no task waits on a session collected)

--- Starts `cmd` in a session of `commands`' sandbox: returns the session once the process
-- started (its pid known). `start` is the start object (cmd, cwd, env, user, timeout,
-- pty); opts: the callbacks, timeout; how: { request_timeout = }.
function M.spawn(commands, start, opts, how)
  local client = commands.box.client
  local target = client:ws_target()
  local base_path = target.prefix .. commands.box:path("/processes")
  local s, message, kind = core.session {
    address = target.address, port = target.port, unix_socket = target.unix_socket,
    host = target.host, authorization = target.authorization, path = base_path .. "/ws",
    tls = target.tls,
  }
  if not s then
    errors.raise(kind, ("spawn: cannot reach sbxd at %s: %s"):format(client.url, message),
      { unreachable = true })
  end
  local st = ops.state(s)
  st.opts, st.url, st.base_path, st.pty = opts, client.url, base_path, start.pty ~= nil
  st.box = commands.box
  st.request_timeout = how.request_timeout
  st.started_at = core.now()
  st.stdin = setmetatable({ session = s }, Stdin)
  st.has_callbacks = opts.on_stdout ~= nil or opts.on_stderr ~= nil
  wait.adopt(s)
  -- A session without callbacks is drained by its calls and field reads, but a cut must
  -- be followed even while nobody calls (a host reading s.stdout between frames, or not
  -- at all): sbxd kills a process whose reader stays away for its resume grace.
  if st.has_callbacks then wait.pump(s, pump) else wait.pump(s, pump, disconnected) end
  st.start_json = cjson.encode({ start = start })
  st.spawning = true
  local ok, err = pcall(function()
    send_control(s, st, "spawn", STATUS, st.start_json)
    drive(s, st, "spawn", function() return st.pid ~= nil end, wait.deadline(st.request_timeout),
      ("spawn timed out after %g s"):format(st.request_timeout))
  end)
  st.spawning = nil
  if not ok then
    ops.close(s)
    error(err, 0)
  end
  return s
end

-- The methods of a session and of its stdin (the editor types' spec reads them).
M.Session, M.Stdin = Session, Stdin

return M
