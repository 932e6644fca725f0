-- 100 commands at once: each in its own task, all in flight together.
local sbx = require "sbx"

local box <close> = sbx.create()
local t0 = sbx.now()
local tasks = {}
for i = 1, 100 do
  tasks[i] = sbx.go(function()
    return box.commands:run(("sleep 0.2; echo %d"):format(i)).stdout
  end)
end
sbx.loop() -- until every task is done; a failed one would raise here

for i, t in ipairs(tasks) do
  assert(t:wait() == i .. "\n", "task " .. i .. " got someone else's output")
end
print(("100 runs of 'sleep 0.2' in %.2f s"):format(sbx.now() - t0))
