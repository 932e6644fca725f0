--- The one place that decides how to wait for an operation of the core.
-- An operation (core.request) queues events as its I/O progresses; a consumer drains them
-- with op:poll() and, when none are queued, calls wait(op, deadline). Outside a task the
-- wait blocks in core.step, which drives every in-flight operation of this Lua state.
local core = require "sbx.core"

local M = {}

--- Waits until `op` has new events or the deadline (core.now() seconds, or nil for none)
-- passes. Returns true when woken by the operation, false when the deadline passed.
function M.wait(op, deadline)
  while true do
    local timeout
    if deadline then
      timeout = deadline - core.now()
      if timeout <= 0 then return false end
    end
    core.step(timeout)
    for _, ready in ipairs(core.ready()) do
      if ready == op then return true end
    end
  end
end

--- A deadline `seconds` from now, or nil when seconds is nil or 0 (no limit).
function M.deadline(seconds)
  if seconds and seconds > 0 then return core.now() + seconds end
  return nil
end

return M
