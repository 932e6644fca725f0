-- sbx inside a cqueues controller: sbx's loop is a pollable object (pollfd, events,
-- timeout), so a cqueues coroutine can wait on it next to the host's own coroutines.
local cqueues = require "cqueues"
local sbx = require "sbx"

local pollable = {
  pollfd = function() return sbx.pollfd() end,
  events = function() return sbx.events() end,
  timeout = function() return sbx.timeout() end,
}

local box = sbx.create()
local results, ticks = {}, 0
for i = 1, 10 do
  sbx.go(function() results[i] = box.commands:run("sleep 0.2; echo cq " .. i).stdout end)
end

local cq = cqueues.new()
cq:wrap(function()                  -- drives sbx
  while sbx.step(0) > 0 do cqueues.poll(pollable) end
end)
cq:wrap(function()                  -- the host's own work, interleaved
  while #results < 10 do
    ticks = ticks + 1
    cqueues.sleep(0.05)
  end
end)
assert(cq:loop())

for i = 1, 10 do assert(results[i] == "cq " .. i .. "\n", results[i]) end
assert(ticks > 1, "the host's coroutine did not run while sbx worked")
box:close()
print(("10 commands in a cqueues controller; the host ticked %d times meanwhile"):format(ticks))
