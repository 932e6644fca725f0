--- A background command's handle (`run(cmd, {background = true})`, `commands:connect(pid)`):
-- its pid, its output so far, wait, kill, stdin, disconnect. The process belongs to the
-- sandbox: a handle that is dropped or disconnected leaves it running.
local check = require "sbx.check"
local core = require "sbx.core"
local errors = require "sbx.errors"
local Stream = require "sbx.stream"
local wait = require "sbx.task"

local Handle = {}
Handle.__name = "sbx.CommandHandle"

local OUTPUT_FIELD = { stdout = 1, stderr = 2 }

--- h.stdout and h.stderr: the output received so far, read from the stream.
function Handle.__index(h, k)
  local ch = OUTPUT_FIELD[k]
  if ch then return rawget(h, "stream"):collected(ch) end
  return Handle[k]
end

function Handle.__tostring(h)
  return ("sbx.CommandHandle (pid %d)"):format(h.pid)
end

--- Checks that a public method was called on a handle (h:wait(), not h.wait()).
local function check_handle(fname, h)
  check.self(fname, h, Handle, "a CommandHandle", "handle:%s()")
end

--- Follows the stream to its end in the handle's own task: its callbacks run there (they
-- may yield). An error a callback raises kills the process and is the task's failure,
-- which h:wait raises.
local function follow_in_task(h)
  -- a turn first: run returns the handle before any callback runs (one may use it)
  wait.relinquish()
  local s = h.stream
  local ok, err = pcall(s.follow, s)
  if ok then return end
  if s.in_callback then
    s:close()
    pcall(h.commands.kill, h.commands, h.pid)
  end
  error(err, 0)
end

--- A handle of `commands`' process on stream `s`. With callbacks, a task follows the
-- stream (and keeps sbx.loop() going) until the process ends or the handle disconnects.
function Handle.new(commands, s, pid)
  local h = setmetatable({ commands = commands, stream = s, pid = pid }, Handle)
  if s:wants_chunks() and s.op then
    h.task = wait.go(follow_in_task, h)
  else
    s:watch_requests()
  end
  return h
end

--- Raises the error the end of a command stands for (see commands.lua).
local function outcome(h)
  local s = h.stream
  local result = s:result()
  Stream.raise_if_cut_short(result, s.opts)
  if result.exit_code ~= 0 then
    local how = result.error and (" (%s)"):format(result.error) or ""
    errors.raise("CommandExitError", ("command exited with code %d%s"):format(result.exit_code, how),
      { result = result })
  end
  return result
end

-- How long a wait alongside another looks again at the stream at most (between a cut
-- and the next attach there is no request whose events or close would wake it).
local ALONGSIDE_LOOK = 0.1

--- Another wait follows the stream (in another task): this one waits until the stream
-- ended or that wait did (it failed, or was cancelled: this one then follows the stream
-- itself), waking when the stream's request has events or is let go. A disconnect ends
-- it as it ends the other.
local function wait_alongside(s)
  if not s.following then return end
  while s.following and not s.ended and not s.disconnected do
    if s.op then wait.wait(s.op, core.now() + ALONGSIDE_LOOK) else wait.sleep(ALONGSIDE_LOOK) end
  end
  if s.disconnected then error(Stream.disconnected_error(), 0) end
end

--- Follows the stream to the process's end: through the handle's own task when it
-- follows, else itself (after another wait's following, if one is under way).
local function follow_to_end(h, s)
  local t = h.task
  if t and t:status() == "running" and not s.disconnected then
    local ok, err = pcall(t.wait, t)
    -- the handle's task cancelled by h:disconnect() meanwhile: this wait was not cancelled
    if not ok and t:status() == "cancelled" and s.disconnected then err = Stream.disconnected_error() end
    if not ok then error(err, 0) end
    return
  end
  wait_alongside(s)
  s.disconnected = nil
  -- the stream's pump leaves it alone meanwhile (Stream:catch_up)
  s.following = true
  local ok, err = pcall(s.follow, s)
  s.following = nil
  s.in_callback = false -- (a callback's error left it set: it is over)
  if not ok then error(err, 0) end
end

--- Waits for the process's end: its CommandResult when it exited 0; raises
-- CommandExitError (err.result) otherwise, NotFoundError when its sandbox was killed,
-- TimeoutError when its timeout killed it, and the error of a write of its `stdin` that
-- failed (commands.lua kills the process then). on_stdout / on_stderr get the chunks
-- that arrive from now on, during this wait. A paused sandbox is resumed.
function Handle:wait(on_stdout, on_stderr)
  check_handle("wait", self)
  if on_stdout ~= nil then check.value("wait", "on_stdout", on_stdout, "function") end
  if on_stderr ~= nil then check.value("wait", "on_stderr", on_stderr, "function") end
  local s = self.stream
  if s.in_callback == coroutine.running() then
    -- the end comes through the very follow that runs this callback: it would never come
    errors.raise("InvalidArgumentError", "wait: a command's callback cannot wait for its own command")
  end
  local extra = s:add_callbacks(on_stdout, on_stderr)
  -- the process cannot end while its sandbox is paused: a wait resumes it, as every call
  -- on a command does (an attach, for one: a stream not attached needs no resume here)
  if s.op and not s.ended then self.commands.box:resume_for_wait() end
  local ok, err = pcall(follow_to_end, self, s)
  s:drop_callbacks(extra) -- a wait's callbacks are that wait's: a later one does not call them
  if not ok then error(err, 0) end
  if self.feed_failure then error(self.feed_failure, 0) end
  return outcome(self)
end

--- SIGKILL to the process group: true, or false when the process had already exited.
function Handle:kill()
  check_handle("kill", self)
  if self.feeder then self.feeder:cancel() end -- what is left of its stdin goes nowhere
  return self.commands:kill(self.pid)
end

function Handle:send_stdin(data)
  check_handle("send_stdin", self)
  return self.commands:send_stdin(self.pid, data)
end

function Handle:close_stdin()
  check_handle("close_stdin", self)
  return self.commands:close_stdin(self.pid)
end

--- Stops receiving: the stream closes, the process runs on (commands:connect(pid) follows
-- it again, and so does a later wait of this handle). h.stdout and h.stderr keep what
-- had come.
function Handle:disconnect()
  check_handle("disconnect", self)
  local s = self.stream
  s:detach()
  s.disconnected = true
  if self.task then self.task:cancel() end
end

return Handle
