-- Run by spec/memory_spec.lua in a process of its own, whose allocator nothing else used
-- before: how much the peak resident size grows while one command's output of `size`
-- bytes is collected and becomes its string. A process that ran other work first may
-- hold free heap space that glibc fills before it maps a block of its own, and a block
-- on the heap that cannot grow where it is gets copied; here the block's growth is the
-- allocator's own, from a clean start.
-- Arguments: url, api_key, sandbox id, size. Prints: bytes the peak grew by, then "ok"
-- when the string is the output.
local sbx = require "sbx"
local testing = require "sbx.testing"

local url, key, id, size = arg[1], arg[2], arg[3], math.tointeger(tonumber(arg[4]))

local function status(field)
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)")) * 1024
end

local box = sbx.connect(id, { url = url, api_key = key })
box.commands:run("true")
collectgarbage()
collectgarbage()
testing.trim()
local before = status("VmRSS")
local f = assert(io.open("/proc/self/clear_refs", "w"))
f:write("5") -- 5: the peak resident size starts over from the current one
f:close()
local r = box.commands:run(("head -c %d /dev/zero"):format(size))
local grew = status("VmHWM") - before
local whole = #r.stdout == size and r.stdout:sub(-4096) == ("\0"):rep(4096)
io.write(grew, " ", whole and "ok" or "wrong", "\n")
box:close()
