-- sbx inside a cqueues controller: the module table itself is a pollable object
-- (sbx:pollfd(), sbx:events(), sbx:timeout()), so a cqueues coroutine waits on it with
-- cqueues.poll(sbx), next to the host's own coroutines.
local cqueues = require "cqueues"
local sbx = require "sbx"

local box = sbx.create()
local results, ticks = {}, 0
for i = 1, 10 do
  sbx.go(function() results[i] = box.commands:run("sleep 0.2; echo cq " .. i).stdout end)
end

local cq = cqueues.new()
cq:wrap(function()                  -- drives sbx
  while sbx.step(0) > 0 do cqueues.poll(sbx) end
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
