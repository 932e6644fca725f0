--- One process's output, followed over one request or several: the stream of its start
-- (or an attach), then, whenever the connection is cut before the `end` event, attaches
-- that resume from the last byte received (docs/PROTOCOL.md, "Output log, attach and
-- resume"). It collects the whole output, hands chunks to callbacks (whole lines with
-- `lines`), and keeps the `end` event. Foreground runs, background handles and
-- connect(pid) all follow their process through it.
local core = require "sbx.core"
local cjson = require "cjson"
local errors = require "sbx.errors"
local transport = require "sbx.transport"
local wait = require "sbx.task"

local EVENT = core.EVENT
local CHANNEL = { [EVENT.STDOUT] = 1, [EVENT.STDERR] = 2 }
local CHANNEL_NAME = { EVENT.STDOUT, EVENT.STDERR }
local CALLBACK_OPTION = { "on_stdout", "on_stderr" }

-- Events handled per turn, and their bytes: a task with more queued lets the others go
-- first, so one task's backlog of output cannot fill a host's frame.
local BATCH, BATCH_BYTES = 16, 32 * 1024

-- How long the stream's last chunk may lag behind the end event before the connection is
-- dropped instead of kept for the next request.
local END_GRACE = 1

-- A cut stream is attached again after these pauses, doubling, for as long as the
-- request timeout allows from the cut (a stream that makes progress starts over).
local RESUME_FIRST, RESUME_MAX = transport.RESUME_FIRST, transport.RESUME_MAX

local Stream = {}
Stream.__index = Stream

-- What the core is asked to do with a stream: collect the output, and queue its chunks
-- as events only when callbacks want them; once its output outgrew curl's smallest
-- receive buffer, read it through a bulk one (Stream:outgrown).
local COLLECT = { collect = true, chunks = false }
local COLLECT_AND_CHUNKS = { collect = true, chunks = true }
local BULK = { [COLLECT] = { collect = true, chunks = false, bulk = true },
  [COLLECT_AND_CHUNKS] = { collect = true, chunks = true, bulk = true } }

--- A stream of `commands`' sandbox. opts: the run's options (callbacks, lines, timeout);
-- foreground: a run's (not a background command's).
local function new(commands, opts, foreground)
  -- A command in flight keeps this table all along: it holds what it needs then (at most
  -- 8 fields keep it at its smallest); `offset` (0 until a cut), `body`, `resends` and
  -- `key` (until the start event) and the rest come and go.
  return setmetatable({
    commands = commands, opts = opts, foreground = foreground,
  }, Stream)
end

--- The run's request timeout, else its sandbox's (seconds; 0: none). Not a field: a
-- command in flight keeps its table, whose fields go past 8 with a `timeout` otherwise.
function Stream:request_timeout()
  return self.opts.request_timeout or self.commands.box.request_timeout
end

function Stream:client()
  return self.commands.box.client
end

--- Whether output chunks are wanted as events: callbacks, the run's or a wait's.
function Stream:wants_chunks()
  local o, x = self.opts, self.extra
  return (o.on_stdout or o.on_stderr or (x and (x.on_stdout or x.on_stderr))) ~= nil
end

--- What the core is asked to do with the stream's requests.
function Stream:core_options()
  local options = self:wants_chunks() and COLLECT_AND_CHUNKS or COLLECT
  return self.bulk and BULK[options] or options
end

--- A start's key: a random whole number below 2^48 (a number, so that a kill request
-- template can name the process by it, as by a pid), or nil when there is no randomness.
local function start_key()
  local hex = core.random_hex(6)
  return hex and tonumber(hex, 16)
end

--- Starts a command (`body`: the start request's JSON): its stream follows from the start.
-- The start carries a key of its own: sent again after a cut before its start event, it
-- gets the stream of the process the first sending began, if sbxd took it (docs/PROTOCOL.md
-- "A start sent again").
function Stream.start(commands, body, opts, foreground)
  local s = new(commands, opts, foreground)
  s.body, s.key = body, start_key()
  s.resends = commands.box.client:resends(wait.deadline(s:request_timeout()))
  s:send_start()
  s.deadline = wait.deadline(s:request_timeout())
  return s
end

--- Sends the start request (again). Until the start event names the pid, closing the
-- request kills the command by its start's key: a background command too, as a start
-- left before it returned a handle (a cancel, an error) leaves nobody holding it.
function Stream:send_start()
  local commands, key = self.commands, self.key
  local url = key and ("%s?key=%d"):format(commands.start_url, key) or commands.start_url
  self.op = self:client():open_url("POST", url, self.body, self:core_options())
  if key then self.op:kill_on_close(self:kill_template("key"), key) end
end

--- A stream of process `pid` that attaches when followed, from offset 0: no request yet.
function Stream.attach(commands, pid, opts)
  local s = new(commands, opts, false)
  s.pid = pid
  return s
end

--- Closes the current request, if any. A foreground command's is set to kill the command
-- when closed before its end (a cancel, an error, a callback's error): sbxd would
-- otherwise keep it for a resume.
function Stream:close()
  local op = self.op
  self.op = nil
  if op then
    op:close()
    wait.wake(op) -- a wait of another task on it (h:wait, then h:disconnect) ends
  end
end

--- A foreground stream left before its end (an error, a cancel) whose start event came
-- but was not handled yet: its pid is learnt from the queued events, so that closing the
-- request kills the command at once rather than after sbxd's resume grace.
function Stream:abandon()
  local op = self.op
  if op and self.foreground and not self.ended and not self.pid then
    for _, ev in ipairs(op:poll()) do
      if ev.type == "event" and ev.event == EVENT.START then
        local ok, doc = pcall(cjson.decode, ev.data)
        self.pid = ok and type(doc) == "table" and transport.int(doc.pid) or nil
        if self.pid then self:kill_on_close() end
      end
    end
  end
  self:close()
end

Stream.__close = Stream.abandon

--- Output parts: holder[ch] is the list of the strings of channel ch received so far
-- (1 stdout, 2 stderr), made when the first comes. A session's state keeps its own the
-- same way. Adds `bytes` to channel ch's parts.
function Stream.add_part(holder, ch, bytes)
  local parts = holder[ch]
  if parts then parts[#parts + 1] = bytes else holder[ch] = { bytes } end
end

--- Channel ch's parts as one string, which then replaces them: joined once, however
-- often it is read.
function Stream.joined(holder, ch)
  local parts = holder[ch]
  if not parts then return "" end
  if #parts > 1 then
    local whole = table.concat(parts)
    holder[ch] = { whole }
    return whole
  end
  return parts[1]
end

--- Moves what the current request collected into the stream's own parts.
function Stream:take_output()
  local op = self.op
  if not op then return end
  for ch = 1, 2 do
    local bytes, err = op:output(CHANNEL_NAME[ch])
    if not bytes then errors.raise("SandboxError", "cannot take the command's output: " .. err) end
    if #bytes > 0 then Stream.add_part(self, ch, bytes) end -- self[1], self[2]
  end
end

--- The output collected so far on channel 1 (stdout) or 2 (stderr).
function Stream:collected(ch)
  if self.op then self:take_output() end
  return Stream.joined(self, ch)
end

--- The CommandResult once the end event came.
function Stream:result()
  local e = self.ended or {}
  return {
    stdout = self:collected(1), stderr = self:collected(2),
    exit_code = transport.int(e.exit_code), error = transport.str(e.error), pid = self.pid,
  }
end

--- The deadline once the stream has started: sbxd enforces the command's timeout; this
-- is the client's backstop should it never say so. With callbacks the timeout is an
-- idle one, started over by every chunk.
function Stream:stream_deadline()
  local t = self.opts.timeout
  if t and t > 0 then return wait.deadline(t + math.max(self:request_timeout(), 5)) end
  return nil
end

-- ---- callbacks

--- Calls cb(data); `in_callback` tells an error raised meanwhile from the stream's own.
function Stream:call(cb, data)
  self.in_callback = coroutine.running() -- (a handle's wait tells a wait from inside it)
  cb(data)
  self.in_callback = false
end

--- Hands data to channel ch's callbacks (the run's, and those a wait added).
function Stream:deliver(ch, data)
  local option = CALLBACK_OPTION[ch]
  local cb, extra = self.opts[option], self.extra and self.extra[option]
  if cb then self:call(cb, data) end
  if extra then self:call(extra, data) end
end

--- With `lines`: hands each complete line of data (with its "\n") to the callbacks, the
-- start of the first joined to what earlier chunks left unterminated; keeps the
-- unterminated end. Pieces of a long line are joined once.
function Stream:deliver_lines(ch, data)
  self.held = self.held or { {}, {} }
  local held = self.held[ch]
  local from = 1
  while true do
    local nl = data:find("\n", from, true)
    if not nl then break end
    if #held > 0 then
      held[#held + 1] = data:sub(from, nl)
      local line = table.concat(held)
      self.held[ch] = {}
      held = self.held[ch]
      self:deliver(ch, line)
    else
      self:deliver(ch, data:sub(from, nl))
    end
    from = nl + 1
  end
  if from <= #data then held[#held + 1] = data:sub(from) end
end

--- With `lines`, at the end: each stream's last line, unterminated, stdout's first.
function Stream:flush_lines()
  for ch = 1, 2 do
    local held = self.held and self.held[ch]
    if held and #held > 0 then
      self.held[ch] = {}
      self:deliver(ch, table.concat(held))
    end
  end
end

-- ---- events

local function decode(data, what)
  local ok, doc = pcall(cjson.decode, data)
  if ok and type(doc) == "table" then return doc end
  errors.raise("SandboxError", ("sbxd sent a malformed %s event: %s"):format(what, data:sub(1, 100)))
end

-- The kill requests of a sandbox's commands: by pid, and by a start's key (before the
-- start event named the pid). A number goes between each URL's two parts.
local KILL_URLS = { pid = { "/processes/", "/signal" }, key = { "/processes/signal?key=", "" } }

--- The template of the request that kills a command of the sandbox by its `by` ("pid" or
-- "key"). Every command of a sandbox shares one of each.
function Stream:kill_template(by)
  local commands = self.commands
  local templates = commands.kill_templates
  if not templates then
    templates = {}
    commands.kill_templates = templates
  end
  local template = templates[by]
  if not template then
    local client, url = self:client(), KILL_URLS[by]
    template = core.request_template {
      method = "POST", url = client:url_of(commands.box:path(url[1])), url_tail = url[2],
      unix_socket = client.socket, headers = client:auth_headers(), body = '{"signal":"SIGKILL"}',
    }
    templates[by] = template
  end
  return template
end

--- Makes the stream's request close kill the command (sbxd would otherwise keep it for a
-- resume): set on a foreground command's stream once its pid is known, cleared at its
-- end.
function Stream:kill_on_close()
  self.op:kill_on_close(self:kill_template("pid"), self.pid)
end

function Stream:on_start(data)
  local doc = decode(data, "start")
  local pid = transport.int(doc.pid)
  if not pid then errors.raise("SandboxError", "sbxd sent a start event without a pid") end
  self.body, self.resends, self.key = nil, nil, nil -- the start is never sent again
  self.pid, self.serial = pid, transport.int(doc.serial)
  -- sbxd sends something at least every `keepalive` seconds while it lives: hearing
  -- nothing for three of them (and a second) means it is gone or stopped.
  local keepalive = tonumber(doc.keepalive)
  if keepalive and keepalive > 0 then self.silence = 3 * keepalive + 1 end
  local from = transport.int(doc.from) or 0
  if from > (self.offset or 0) then
    -- sbxd's log no longer holds the bytes from where this stream stood: a background
    -- process's oldest output goes when nobody reads it; a foreground one's never should
    if self.foreground then
      local lost = from - (self.offset or 0)
      errors.raise("SandboxError",
        ("%d bytes of the command's output were lost (sbxd's log kept them no longer)"):format(lost))
    end
    self.lost = (self.lost or 0) + from - (self.offset or 0)
    self.offset = from
  end
  -- a background command belongs to its sandbox from its start on
  if self.foreground then self:kill_on_close() else self.op:kill_on_close(nil) end
end

function Stream:on_end(data)
  local doc = decode(data, "end")
  if not math.tointeger(doc.exit_code) then
    errors.raise("SandboxError", "sbxd sent a malformed end event: " .. data:sub(1, 100))
  end
  self.ended = doc
  self.op:kill_on_close(nil)
  if self.opts.lines then self:flush_lines() end
  self:take_output() -- all output precedes the end event: the result is complete
  self.deadline = wait.deadline(END_GRACE)
end

--- Handles one protocol event (start, output chunks, end).
function Stream:on_event(ev)
  local ch = CHANNEL[ev.event]
  if ch then
    local t = self.opts.timeout
    if t and t > 0 then self.deadline = self:stream_deadline() end -- idle: the backstop starts over
    if self.opts.lines then self:deliver_lines(ch, ev.data) else self:deliver(ch, ev.data) end
  elseif ev.event == EVENT.START then
    self:on_start(ev.data)
  elseif ev.event == EVENT.END then
    self:on_end(ev.data)
  end
end

--- Raises the error of a refused request: as it is for the first request, as a
-- SandboxError saying the command could not be resumed for a later one (an attach that
-- answered 503 or 504 (transport.PASSING) is not refused: it is tried again, as a cut).
function Stream:refused(status, body)
  if not self.resuming then transport.raise_status(status, body) end
  local ok, err = pcall(transport.raise_status, status, body)
  assert(not ok)
  errors.raise("SandboxError",
    ("the output stream was cut and cannot be resumed: %s"):format(tostring(err.message)),
    { status = err.status, cause = err })
end

-- curl's codes for a stream that broke because of what it said, not because the
-- connection went (a malformed stream, no memory, a certificate refused): attaching
-- again would get the same.
local NOT_A_CUT = transport.NOT_A_CUT

local function is_stream(content_type)
  local t = type(content_type) == "string" and content_type:match("^%s*([^;%s]+)")
  return t == "text/event-stream" or t == "application/vnd.sbx.frames"
end

--- Whether a start cut before its start event is to be sent again (its key makes that
-- safe): after the pause, within its request timeout. Transport error `ev`, or nil for a
-- cut inside the answer; a start that reached no server at all is refused at once.
function Stream:start_again(ev)
  if not (self.key and self.resends) then return false end
  if ev then return transport.again_after(ev, self.resends) end
  return transport.pause_to_resend(self.resends)
end

--- Handles one core event. Returns nil to go on, "end" once the response is over with
-- the end event, "cut" when the stream broke off before it, "resend" when the start is
-- to be sent again (it reached no server, or it has a key and was cut before its start
-- event).
function Stream:on_core_event(ev)
  local t = ev.type
  if t == "event" then
    self:on_event(ev)
  elseif t == "head" then
    -- a server answered: a start without a key is never sent again
    if not self.key then self.resends, self.body = nil, nil end
    if ev.status ~= 200 and not self.pid then self.op:kill_on_close(nil) end -- nothing started
    if self.resuming then self.answered = true end
    if ev.status == 200 then
      if not is_stream(ev.content_type) then
        errors.raise("SandboxError", ("sbxd answered with %s, not an output stream"):format(
          tostring(ev.content_type)))
      end
      self.deadline = self:stream_deadline()
    end
  elseif t == "done" then
    if ev.status < 200 or ev.status > 299 then
      if self.resuming and transport.PASSING[ev.status] then
        self.cut_reason = ("the attach was answered HTTP %d"):format(ev.status)
        return "cut"
      end
      -- a start sent again after a cut: a proxy restarting, or sbxd's "still starting"
      local passing = not self.pid and self.resends and self.resends.again and transport.PASSING[ev.status]
      if passing and self:start_again() then return "resend" end
      self:refused(ev.status, ev.body)
    end
    if self.ended then return "end" end
    if not self.pid then
      -- curl (7.88) ends an answer cut inside its head as a whole one with no body
      if self:start_again() then return "resend" end
      errors.raise("SandboxError", "the output stream ended before the command's start event")
    end
    self.cut_reason = "the output stream ended before the command's end event"
    return "cut"
  elseif t == "error" then
    if self.ended then return "end" end
    if self.resends and self:client():may_resend(ev, self.resends) then return "resend" end
    if not self.pid and self:start_again(ev) then return "resend" end
    if not self.pid or NOT_A_CUT[ev.code] then transport.raise_transport(ev, self:client()) end
    self.cut_reason = ev.message
    return "cut"
  end
  return nil
end

--- Why nothing came before the wake-up: "silence" when sbxd said nothing for too long,
-- "timeout" when the deadline passed, nil when neither (a spurious wake-up).
function Stream:quiet_why(op)
  local silence = self.silence
  if silence and op:idle() >= silence then return "silence" end
  if self.deadline and core.now() >= self.deadline then return "timeout" end
  return nil
end

--- What a stream that went quiet does: "cut" to attach again, "end" when its end event
-- had come; or it raises.
function Stream:on_quiet(why)
  if why == "silence" then
    local reason = ("sbxd sent nothing for %g s: it is stopped or gone"):format(self.silence)
    if not self.pid then errors.raise("SandboxError", reason) end
    self.cut_reason = reason
    return "cut"
  end
  if self.ended then return "end" end
  if self.resuming and not self.answered then
    self.cut_reason = "sbxd did not answer the attach"
    return "cut"
  end
  self:timed_out()
end

--- Takes the current request's events until its response is over or, with
-- `until_start`, the start event came. Returns "end", "start", "cut", "resend", "detached"
-- (another task let the request go: h:disconnect() during a wait) or
-- "outgrown" (the request reads through curl's smallest buffer and the command has much
-- output: attaching again with a bulk one costs less).
-- The waiting is inline, not a function of its own: a command in flight waits here, and
-- every frame between its task's function and the yield is kept (a CallInfo and stack
-- room each) for as long as it runs.
function Stream:drive(until_start)
  local op, max = self.op, until_start and 1 or BATCH
  while true do
    if self.op ~= op then return "detached" end -- let go by another task meanwhile
    local evs, left = op:poll(max, BATCH_BYTES)
    if left > 0 then wait.relinquish() end
    for _, ev in ipairs(evs) do
      local how = self:on_core_event(ev)
      if how then return how end
      -- a callback let the request go (h:disconnect()): the rest comes from the offset
      if self.op ~= op then return "detached" end
      if until_start and self.pid then return "start" end
    end
    -- (only with every event taken: letting the request go hands its output over whole)
    if left == 0 and self.pid and not self.ended and op:outgrown() then return "outgrown" end
    if #evs == 0 then
      evs = nil -- luacheck: ignore 311 (not kept while the command runs)
      local wake_at, silence = self.deadline, self.silence
      local quiet_until = silence and core.now() + silence - op:idle()
      if quiet_until and (not wake_at or quiet_until < wake_at) then wake_at = quiet_until end
      if not wait.wait(op, wake_at) then
        local why = self:quiet_why(op)
        if why and not (why == "timeout" and self:held_by_pause()) then return self:on_quiet(why) end
      end
    end
  end
end

--- At the backstop (the command's timeout and a grace past, and no end): whether its
-- sandbox was paused meanwhile (its paused time grew since the last asking; at the first,
-- any pause at all). sbxd's timeout stood still then and has at most its whole length
-- left, so the backstop starts over.
function Stream:held_by_pause()
  local t = self.opts.timeout
  if not (self.pid and t and t > 0) or self.ended or self.resuming then return false end
  local paused = self.commands.box:paused_more_than(self.paused_mark or 0)
  if not paused then return false end
  self.paused_mark, self.deadline = paused, self:stream_deadline()
  return true
end

function Stream:timed_out()
  local t = self.opts.timeout
  if self.pid and t and t > 0 then
    errors.raise("TimeoutError", ("sbxd did not end the command %g s past its timeout"):format(
      math.max(self:request_timeout(), 5)))
  end
  transport.raise_timeout(self.pid and "stream" or "run", self:request_timeout())
end

--- How long after a cut the stream tries to attach again: the request timeout.
function Stream:window()
  local seconds = self:request_timeout()
  return seconds > 0 and seconds or 30
end

--- Readies request `op` to be let go without killing the command: the stream goes on
-- from where it ends. True when that is past the stream's offset (it made progress).
function Stream:let_go(op)
  op:kill_on_close(nil)
  local at = op:offset()
  if not (at and at > (self.offset or 0)) then return false end
  self.offset = at
  return true
end

--- The stream broke off before its end: what came of it is kept, the request is closed
-- (without killing the command), and the stream will attach again from there.
function Stream:on_cut()
  if self:let_go(self.op) then
    self.cut_at = nil -- it made progress: this cut has a window of its own
  end
  self:take_output()
  self:close()
  self.resuming = true
  local now = core.now()
  if not self.cut_at then self.cut_at, self.first_reason = now, self.cut_reason end
  self.pause = self.cut_at == now and RESUME_FIRST or math.min((self.pause or RESUME_FIRST) * 2, RESUME_MAX)
  if self:client():embedded_gone() then
    errors.raise("SandboxError", ("the output stream was cut: the embedded sbxd exited, and its "
      .. "sandboxes with it (%s)"):format(tostring(self.first_reason)))
  end
  local window = self:window()
  if now + self.pause > self.cut_at + window then
    errors.raise("SandboxError", ("the output stream was cut and could not be resumed within %g s: %s")
      :format(window, tostring(self.first_reason)))
  end
  wait.sleep(self.pause)
end

--- Attaches to the process from the stream's offset (the new request taking over the
-- output `output_from`, an op, collected, if given).
function Stream:reattach(output_from)
  local path = ("/processes/%d/events?offset=%d"):format(self.pid, (self.offset or 0))
  if self.serial then path = path .. "&serial=" .. self.serial end
  local client = self:client()
  self.op = client:open_url("GET", client:url_of(self.commands.box:path(path)), nil, self:core_options(),
    nil, output_from)
  self.answered = nil
  -- an attach after a cut has what is left of the cut's window; a first one, the
  -- request timeout
  self.deadline = self.cut_at and self.cut_at + self:window() or wait.deadline(self:request_timeout())
  if self.watch then self:watch_request() end
end

--- A stream nobody follows, of a background command (no callbacks, and no wait under
-- way): a cut must not stop it, as h.stdout grows while anything steps the loop. Once
-- watched, each request of the stream has a pump (a quiet task: it keeps no loop()
-- going) that takes its events when it has some and nobody else does (Stream:catch_up).
function Stream:watch_requests()
  self.watch = function(op) self:catch_up(op) end
  if self.op then self:watch_request() end
end

function Stream:watch_request()
  wait.pump(self.op, self.watch, nil, true)
end

--- The pump's work: takes what request `op` has, without waiting for more; at a cut it
-- attaches again from where the stream stood, after the pause a follow would make. A
-- wait under way (`following`) takes the events itself, and one that began during the
-- pause attaches itself. An error is left for a wait, which follows the stream the same
-- way and raises it.
function Stream:catch_up(op)
  if self.following or self.op ~= op then return end
  local ok = pcall(function()
    local how
    repeat
      local evs = op:poll(BATCH, BATCH_BYTES)
      for _, ev in ipairs(evs) do
        how = self:on_core_event(ev)
        if how then break end
      end
    until how or #evs == 0
    if how == "end" then
      self:close()
    elseif how == "cut" then
      self:on_cut()
      if not (self.op or self.following or self.disconnected) then self:reattach() end
    end
  end)
  -- a request that failed (an attach refused) is let go, what it brought kept: the wait
  -- attaches again, and gets the refusal itself
  if not ok and self.op and not self.following then self:detach() end
end

--- What a wait raises when the handle it follows is disconnected under it.
function Stream.disconnected_error()
  return errors.new("SandboxError", "the command's stream was disconnected while this wait followed it")
end

--- Follows the process until its end event (or, with `until_start`, its start event),
-- attaching again as often as the stream is cut.
function Stream:follow(until_start)
  if self.ended then return end
  while true do
    if not self.op then self:reattach() end
    local how = self:drive(until_start)
    if how == "end" then
      self:close()
      return
    elseif how == "start" then
      return
    elseif how == "resend" then
      self.op:kill_on_close(nil) -- the start sent again takes the command over
      self:close()
      self:send_start()
    elseif how == "outgrown" then
      self:outgrown()
    elseif how == "detached" then
      error(Stream.disconnected_error(), 0)
    else
      self:on_cut()
    end
  end
end

--- The request reads through curl's smallest receive buffer (the client gives a bulk one
-- to its first streams in flight only, so that thousands of waiting commands cost little)
-- and the command turned out to have much output, a read and a look at the socket for
-- every KiB: the stream lets the request go, as at a cut (nothing lost, the command
-- kept), and attaches again at once from where it is, with a bulk buffer.
function Stream:outgrown()
  local old = self.op
  self:let_go(old)
  self.op, self.resuming, self.bulk = nil, true, true
  -- the new request takes over what the old one collected, and collects onto it: the
  -- output stays one buffer, that becomes its string where it is at the end
  local ok, err = pcall(self.reattach, self, old)
  if not ok then -- what the old request collected is kept, as at a cut
    self.op = old
    self:take_output()
    self.op = nil
  end
  old:close()
  if not ok then error(err, 0) end
  -- A cancel before the attach's start event comes must still kill the command at once.
  -- The process ran a moment ago, and sbxd keeps an exited foreground one for its resume
  -- grace, so the pid is still its own (after a cut it may not be: there the start
  -- event, with its serial, says so first).
  if self.foreground then self:kill_on_close() end
end

--- Stops following: what came is kept, the request is closed without killing the
-- command; a later follow attaches from there.
function Stream:detach()
  if not self.op then return end
  self:let_go(self.op)
  self:take_output()
  self:close()
end

--- Raises when the end event says the command did not finish by itself: its timeout, or
-- its sandbox's end (lifetime or kill).
function Stream.raise_if_cut_short(result, opts)
  local streams = opts.on_stdout ~= nil or opts.on_stderr ~= nil
  if result.error == "timeout" and streams then
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

--- Callbacks added by a wait: chunks are wanted from now on. Returns them (nil when
-- none), for drop_callbacks at the wait's end.
function Stream:add_callbacks(on_stdout, on_stderr)
  if not (on_stdout or on_stderr) then return nil end
  self.extra = { on_stdout = on_stdout, on_stderr = on_stderr }
  if self.op then self.op:chunks(true) end
  return self.extra
end

--- Takes back the callbacks add_callbacks returned as `extra` (nil: none), unless a later
-- call put others in their place.
function Stream:drop_callbacks(extra)
  if extra and self.extra == extra then self.extra = nil end
end

return Stream
