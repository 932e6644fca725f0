--- sbx: run commands inside sandboxes owned by sbxd. The guide is docs/API.md.
-- @module sbx
local sandbox = require "sbx.sandbox"
local errors = require "sbx.errors"
local task = require "sbx.task"
local check = require "sbx.check"
local core = require "sbx.core"

local M = {}

--- The module's version string.
M.VERSION = core.VERSION

--- Creates a sandbox and returns it (`sbx.sandbox.create`).
-- @function create
M.create = sandbox.create

--- A sandbox by id (`sbx.sandbox.connect`).
-- @function connect
M.connect = sandbox.connect

--- The sandboxes of a server (`sbx.sandbox.list`).
-- @function list
M.list = sandbox.list

--- Error kinds, `errors.is(err, kind)` and friends (`sbx.errors`).
M.errors = errors

--- Starts fn(...) as a task (`sbx.task.go`).
-- @function go
M.go = task.go

--- Drives all I/O once and resumes the tasks that can proceed (`sbx.task.step`).
-- @function step
M.step = task.step

--- Steps until no task is left (`sbx.task.loop`).
-- @function loop
M.loop = task.loop

--- The descriptor a host's loop polls for sbx (`sbx.task.pollfd`).
-- @function pollfd
M.pollfd = task.pollfd

--- The events to poll it for: "r" (`sbx.task.events`).
-- @function events
M.events = task.events

--- Seconds until step() has work for sure, or nil (`sbx.task.timeout`).
-- @function timeout
M.timeout = task.timeout

--- Waits `seconds`: inside a task it yields, and other tasks and the host go on; anywhere
-- else it blocks, driving every other operation meanwhile, as any call that waits does.
-- A cancel of the task raises CancelledError from it.
function M.sleep(seconds)
  task.sleep(check.value("sleep", "seconds", seconds, "seconds"))
end

--- Monotonic seconds, the clock sbx's deadlines use.
-- @function now
M.now = core.now

return M
