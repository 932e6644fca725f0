-- sbx driven by a luv (libuv) loop the host already runs: a poll handle on sbx.pollfd()
-- and a timer for sbx.timeout() call sbx.step(0) whenever sbx has work.
local uv = require "luv"
local sbx = require "sbx"

local box = sbx.create()
local results = {}
for i = 1, 10 do
  sbx.go(function() results[i] = box.commands:run("echo luv " .. i).stdout end)
end

local poll = uv.new_poll(sbx.pollfd())
local timer = uv.new_timer()

local function drive()
  if sbx.step(0) == 0 then          -- every task is done: let the uv loop end
    poll:stop()
    timer:stop()
    return
  end
  local t = sbx.timeout()           -- when sbx must run again even without I/O
  timer:start(t and math.ceil(t * 1000) or 1000, 0, drive)
end

poll:start("r", drive)
drive()
uv.run()

for i = 1, 10 do assert(results[i] == "luv " .. i .. "\n", results[i]) end
box:close()
print("10 commands driven by a luv loop")
