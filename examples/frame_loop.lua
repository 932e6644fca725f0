-- A host that owns its frame loop: 60 frames a second, sbx.step(0) once per frame, while
-- 20 commands stream their output. step(0) never blocks, so no frame waits on sbx.
local sbx = require "sbx"

local box <close> = sbx.create()
local lines = 0
for i = 1, 20 do
  sbx.go(function()
    box.commands:run(("for n in 1 2 3 4 5; do echo %d.$n; sleep 0.1; done"):format(i), {
      on_stdout = function(chunk) -- runs inside sbx.step, between frames' work
        for _ in chunk:gmatch("\n") do lines = lines + 1 end
      end,
    })
  end)
end

local FRAME = 1 / 60
local frames, worst = 0, 0
while true do
  local start = sbx.now()
  local live = sbx.step(0)          -- all of sbx's work for this frame
  worst = math.max(worst, sbx.now() - start)
  frames = frames + 1
  if live == 0 then break end
  -- ... the host's own update and render would go here ...
  -- The host sleeps out the frame; sleeping in sbx.step lets idle time serve sbx too.
  repeat
    local left = start + FRAME - sbx.now()   -- read the clock once: it moves between reads
    if left > 0 then sbx.step(left) end
  until left <= 0
end
assert(lines == 100, "lines: " .. lines)
print(("%d frames, %d lines streamed, slowest step(0) %.2f ms"):format(frames, lines, worst * 1000))
