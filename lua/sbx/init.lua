--- sbx: run commands inside sandboxes owned by sbxd. The contract is docs/API.md.
local sandbox = require "sbx.sandbox"
local errors = require "sbx.errors"
local task = require "sbx.task"
local core = require "sbx.core"

return {
  VERSION = core.VERSION,
  create = sandbox.create,
  connect = sandbox.connect,
  list = sandbox.list,
  errors = errors,
  go = task.go,
  step = task.step,
  loop = task.loop,
  pollfd = task.pollfd,
  events = task.events,
  timeout = task.timeout,
  now = core.now, -- monotonic seconds, the clock sbx's deadlines use
}
