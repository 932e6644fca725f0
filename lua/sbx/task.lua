--- Tasks and the one place that decides how to wait.
--
-- An operation of the core (core.request) queues events as its I/O progresses; a consumer
-- drains them with op:poll() and, when none are queued, calls wait(op, deadline):
-- * inside a task started with go(), the task yields; the scheduler resumes it when the
--   operation has events, its deadline passes, or it is cancelled;
-- * anywhere else (main chunk, a foreign coroutine) it blocks in core.step, and every
--   other task whose I/O completed is resumed meanwhile.
local core = require "sbx.core"
local check = require "sbx.check"
local errors = require "sbx.errors"
local heap = require "sbx.heap"

local M = {}

M.STEP_BUDGET = 0.0005 -- seconds one step spends on I/O and tasks before it yields

local WAIT = {}            -- what a task yields to the scheduler when it waits
local tasks = {}           -- coroutine -> task, for live tasks
local waiting = {}         -- task -> true while it waits (on an op, a task, or a deadline)
local on_op = {}           -- op -> the task waiting on it, or a set of them when several do
-- op -> the function that takes its events when it has some and no task waits on it (a
-- session with callbacks): weak keys, so that it keeps no op alive
local pumps = setmetatable({}, { __mode = "k" })
-- op -> a predicate on it: its pump runs only when the predicate holds (weak keys too)
local pump_wanted = setmetatable({}, { __mode = "k" })
-- op -> true when its pump's tasks keep no loop() going (weak keys too)
local pump_quiet = setmetatable({}, { __mode = "k" })
local runnable = {}        -- queue of { task, why }
local live = 0
local failed_unseen = {}   -- tasks that failed and nobody has waited for, in order
-- Deadlines of waiting tasks, nearest first: a step finds the due ones and the nearest
-- without looking at every waiting task. An entry goes stale when its task is woken
-- otherwise (t.deadline_entry no longer is that entry); stale entries are dropped when
-- they come to the top, and all at once when they outnumber the live ones.
local deadlines = heap.new()
local live_deadlines = 0

local Task = {}
Task.__index = Task
Task.__name = "sbx.Task"

--- Checks that a public method was called on a Task (t:wait(), not t.wait()).
local function check_task(fname, t)
  check.self(fname, t, Task, "a Task", "task:%s()")
end

function Task:status()
  check_task("status", self)
  return self.state
end

function Task.__tostring(t) return "sbx.Task (" .. t.state .. ")" end

local function add_waiter(op, t)
  local w = on_op[op]
  if w == nil or w == t then
    on_op[op] = t
  elseif getmetatable(w) == Task then
    on_op[op] = { [w] = true, [t] = true }
  else
    w[t] = true
  end
end

local function remove_waiter(op, t)
  local w = on_op[op]
  if w == t then
    on_op[op] = nil
  elseif w and getmetatable(w) ~= Task then
    w[t] = nil
    if next(w) == nil then on_op[op] = nil end
  end
end

local function schedule(t, why)
  if not waiting[t] then return end
  waiting[t] = nil
  local op = t.op
  if op then remove_waiter(op, t) end
  if t.awaited then t.awaited.waiters[t] = nil end -- made when t began to wait for it
  if t.deadline_entry then live_deadlines = live_deadlines - 1 end
  t.op, t.awaited, t.deadline_entry = nil, nil, nil
  local item = { t, why, op }
  t.queued = item
  runnable[#runnable + 1] = item
end

-- The waiters of a task nobody waited for: a task makes its set when the first one comes.
local NO_WAITERS = {}

local function finish(t, ok, ...)
  tasks[t.co] = nil
  if not t.quiet then live = live - 1 end
  if ok then
    t.state, t.results = "done", table.pack(...)
  else
    local err = ...
    t.err = err
    t.state = (t.cancelled and errors.is(err, "CancelledError")) and "cancelled" or "failed"
    if t.state == "failed" then
      t.traceback = debug.traceback(t.co, nil, 1)
      failed_unseen[#failed_unseen + 1] = t
    end
    -- An error does not unwind a coroutine: its pending <close> variables (the request it
    -- waited on, a sandbox) are closed here, not whenever it is collected.
    coroutine.close(t.co)
  end
  for w in pairs(t.waiters or NO_WAITERS) do schedule(w, "ready") end
end

local function resume(t, ...)
  t.queued = nil
  if coroutine.status(t.co) ~= "suspended" then return end
  local res = table.pack(coroutine.resume(t.co, ...))
  if coroutine.status(t.co) == "dead" then
    finish(t, table.unpack(res, 1, res.n))
  elseif res[2] ~= WAIT then
    -- The task yielded on its own (a bare coroutine.yield): it runs again next step.
    waiting[t] = true
    schedule(t, "yield")
  end
end

--- Starts fn(...) as a task, at once: it runs until its first wait. A `quiet` one is not
-- counted as live (loop() and step() do not wait for it).
local function start(fn, quiet, ...)
  local t = setmetatable({ state = "running", co = coroutine.create(fn), quiet = quiet or nil }, Task)
  tasks[t.co] = t
  if not quiet then live = live + 1 end
  resume(t, ...)
  return t
end

-- What turning one byte an operation holds into Lua strings costs, in seconds (a copy
-- and, for a command's whole output at its end, fresh pages): a task about to take a
-- large backlog waits for the next step, where it goes first, rather than push this one
-- past its budget.
M.SECONDS_PER_BYTE = 1e-9

--- What resuming the task woken by `op` (nil: by something else) is expected to cost.
local function cost(op)
  return op and op:backlog() * M.SECONDS_PER_BYTE or 0
end

local function stands(e)
  return e.task.deadline_entry == e
end

local function add_deadline(t, at)
  local e = { at = at, task = t }
  t.deadline_entry = e
  live_deadlines = live_deadlines + 1
  deadlines:push(e)
  if #deadlines > 2 * live_deadlines + 64 then deadlines:filter(stands) end
end

--- The nearest deadline that still stands, or nil.
local function nearest_deadline()
  local e = deadlines:peek()
  while e and not stands(e) do
    deadlines:pop()
    e = deadlines:peek()
  end
  return e
end

--- Makes the tasks waiting on `op` runnable, as when it has events. Whoever closes an
-- operation that other tasks may wait on calls it: a closed operation gets no events,
-- and its waiters would otherwise wait for good (each finds it closed when it runs).
function M.wake(op)
  local w = on_op[op]
  if w and getmetatable(w) == Task then
    schedule(w, "ready")
  elseif w then
    local all = {}
    for t in pairs(w) do all[#all + 1] = t end
    for _, t in ipairs(all) do schedule(t, "ready") end
  end
end

--- Resumes every task that can proceed: woken by its op, its deadline, or a cancel.
-- `started` is when the step began (core.now()): its I/O counts against the budget.
local function dispatch(mine, started)
  local woke = false
  for _, op in ipairs(core.ready()) do
    if op == mine then woke = true end
    if on_op[op] then
      M.wake(op)
    elseif pumps[op] and (not pump_wanted[op] or pump_wanted[op](op)) then
      start(pumps[op], pump_quiet[op], op)
    end
  end
  local now = core.now()
  local e = nearest_deadline()
  while e and e.at <= now do
    deadlines:pop()
    schedule(e.task, "timeout")
    e = nearest_deadline()
  end
  -- Tasks run until the step's time budget is spent (counting what the next one is
  -- expected to cost), at least one so that every step makes progress; the rest run
  -- in the next step (timeout() is 0 meanwhile), so a flood of output cannot stall a
  -- host's frame.
  local queue = runnable
  if #queue == 0 then return woke end
  runnable = {}
  local budget_end = started + M.STEP_BUDGET
  for i, item in ipairs(queue) do
    if i > 1 and core.now() + cost(item[3]) > budget_end then
      table.move(queue, i, #queue, #runnable + 1, runnable)
      break
    end
    resume(item[1], item[2])
  end
  return woke
end

--- Seconds until the nearest task deadline (nil when none), capped by `limit`.
local function next_timeout(limit)
  if #runnable > 0 then return 0 end
  local e = nearest_deadline()
  if not e then return limit end
  local left = math.max(0, e.at - core.now())
  if not limit or left < limit then return left end
  return limit
end

--- One turn of the loop: I/O for at most `timeout` seconds (nil: until something
-- happens), then every task that can proceed. True when `mine` got events. `blocking`:
-- the caller waits for this (a call outside any task, sbx.loop(), a step with no
-- timeout), so no host's frame is kept short by it: the I/O takes a blocking step's bytes
-- (docs/API.md, "What one step does at most"), whether or not it may sleep.
local function turn(timeout, mine, blocking)
  local t0, wait_for = core.now(), next_timeout(timeout)
  -- A step whose first task is about to take a large backlog spends itself on that task:
  -- the I/O waits for the next step, so the two do not add up in one frame.
  local first = runnable[1]
  if not (first and cost(first[3]) >= M.STEP_BUDGET) then core.step(wait_for, blocking) end
  -- a step that may have slept counts from its wake-up; one that did not, from its start
  return dispatch(mine, wait_for == 0 and t0 or core.now())
end

local function current_task()
  return tasks[coroutine.running()]
end

local function cancelled_error()
  return errors.new("CancelledError", "the task was cancelled")
end

--- Parks the current task until the scheduler resumes it; returns why.
local function park(t)
  waiting[t] = true
  local why = coroutine.yield(WAIT)
  if why == "cancel" then error(cancelled_error(), 0) end
  return why
end

--- Waits until `op` has new events or the deadline (core.now() seconds, or nil) passes.
-- Returns true when woken by the operation, false when the deadline passed.
function M.wait(op, deadline)
  local t = current_task()
  if t then
    if t.cancelled then error(cancelled_error(), 0) end
    t.op = op
    if deadline then add_deadline(t, deadline) end
    add_waiter(op, t)
    -- park(t), inline: a task waits here for as long as its I/O is in flight, and each
    -- frame under the yield is kept all that time.
    waiting[t] = true
    local why = coroutine.yield(WAIT)
    if why == "cancel" then error(cancelled_error(), 0) end
    return why == "ready"
  end
  while true do
    local timeout
    if deadline then
      timeout = deadline - core.now()
      if timeout <= 0 then return false end
    end
    if turn(timeout, op, true) then return true end
  end
end

--- From now on, when `op` has events and no task waits on it, a task runs fn(op) (once
-- per step at most), if wanted(op) holds where `wanted` is given; nil stops it. With
-- `quiet`, those tasks are not counted as live: they keep no loop() going.
function M.pump(op, fn, wanted, quiet)
  pumps[op] = fn
  pump_wanted[op] = fn and wanted or nil
  pump_quiet[op] = fn and quiet or nil
end

--- The current task (if any) owns `obj`: cancelling the task closes it (obj:close()).
-- The task holds it weakly: an object dropped is still collected.
function M.adopt(obj)
  local t = current_task()
  if not t then return end
  t.owned = t.owned or setmetatable({}, { __mode = "k" })
  t.owned[obj] = true
end

--- Waits `seconds`: inside a task it yields; elsewhere it blocks, running the scheduler.
function M.sleep(seconds)
  local deadline = core.now() + seconds
  local t = current_task()
  if t then
    if t.cancelled then error(cancelled_error(), 0) end
    add_deadline(t, deadline)
    park(t)
    return
  end
  while core.now() < deadline do turn(deadline - core.now(), nil, true) end
end

--- Inside a task: lets every other runnable task have a turn first. Elsewhere: nothing.
function M.relinquish()
  local t = current_task()
  if not t then return end
  if t.cancelled then error(cancelled_error(), 0) end
  waiting[t] = true
  schedule(t, "turn")
  if coroutine.yield(WAIT) == "cancel" then error(cancelled_error(), 0) end
end

--- A deadline `seconds` from now, or nil when seconds is nil or 0 (no limit).
function M.deadline(seconds)
  if seconds and seconds > 0 then return core.now() + seconds end
  return nil
end

--- Starts fn(...) as a task, at once: it runs until its first wait.
function M.go(fn, ...)
  if type(fn) ~= "function" then
    errors.raise("InvalidArgumentError", "go: fn must be a function")
  end
  return start(fn, false, ...)
end

local function outcome(t)
  for i, f in ipairs(failed_unseen) do
    if f == t then table.remove(failed_unseen, i) break end
  end
  if t.state == "done" then return table.unpack(t.results, 1, t.results.n) end
  error(t.err, 0)
end

--- How many tasks stand between `t` and `me` in the chain of tasks each waiting for the
-- next (t waits for u, u for v, ...), or nil when the chain does not come back to `me`.
-- Such a circle could never end: each waits for another of it. A task's `awaited` is
-- set only while it waits, so the chain holds no task that runs or ended.
local function circle_through(t, me)
  local between, x = 0, t.awaited
  while x do
    if x == me then return between end
    between, x = between + 1, x.awaited
  end
  return nil
end

--- fn's return values, or fn's error raised again; waits like any sbx call.
function Task:wait()
  check_task("wait", self)
  local me = current_task()
  if me == self then errors.raise("InvalidArgumentError", "wait: a task cannot wait for itself") end
  local between = me and self.state == "running" and circle_through(self, me)
  if between then
    errors.raise("InvalidArgumentError", ("wait: the task waits for this one%s: neither could ever go on")
      :format(between == 0 and "" or (" through %d other%s"):format(between, between == 1 and "" or "s")))
  end
  while self.state == "running" do
    if me then
      self.waiters = self.waiters or {}
      self.waiters[me] = true
      me.awaited = self
      park(me)
    else
      turn(nil, nil, true)
    end
  end
  return outcome(self)
end

--- The task's current or next wait raises CancelledError inside it; what it was waiting
-- on is closed by its own error handling (a run closes its stream: sbxd kills the command).
function Task:cancel()
  check_task("cancel", self)
  if self.state ~= "running" or self.cancelled then return end
  self.cancelled = true
  -- what the task owns (its sessions) closes now, whatever the task does with the error
  for obj in pairs(self.owned or NO_WAITERS) do obj:close() end
  -- a wait that ended, the task not resumed yet, raises too: it is still its current wait
  -- (not a bare coroutine.yield of the task's own, which is resumed with "yield")
  local queued = self.queued
  if queued and queued[2] ~= "yield" then queued[2] = "cancel" end
  schedule(self, "cancel")
end

--- Drives all I/O once and resumes the tasks that can proceed. timeout 0 never blocks;
-- nil blocks until something happens. Returns the number of live tasks.
function M.step(timeout)
  if timeout ~= nil and (type(timeout) ~= "number" or timeout < 0 or timeout ~= timeout) then
    errors.raise("InvalidArgumentError", "step: timeout must be nil or a non-negative number")
  end
  turn(timeout, nil, timeout == nil)
  return live
end

local function raise_unseen()
  local t = table.remove(failed_unseen, 1)
  if not t then return end
  local err = t.err
  if type(err) == "table" then
    err.traceback = t.traceback
    error(err, 0)
  end
  error(tostring(err) .. "\n" .. t.traceback, 0)
end

--- Steps until no task is left; raises the error of a task that failed unseen. Inside a
-- task it could never return (that task is one of those left), so it raises there.
function M.loop()
  if current_task() then
    errors.raise("InvalidArgumentError",
      "loop: called inside a task, it would wait for that task too: wait for the tasks it needs (t:wait())")
  end
  raise_unseen()
  while live > 0 do
    turn(nil, nil, true)
    raise_unseen()
  end
end

function M.pollfd() return core.pollfd() end

function M.events() return "r" end

--- Seconds until step() has work for sure (0 when a task can run now), or nil.
function M.timeout()
  local t = core.timeout()
  return next_timeout(t)
end

return M
