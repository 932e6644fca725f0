-- Quickstart: with no url, sbx starts its own private sbxd for this process.
local sbx = require "sbx"

local box <close> = sbx.create { metadata = { example = "quickstart" } }
print("sandbox " .. box.id)

local r = box.commands:run("echo hello from $(uname -s); echo to stderr >&2; exit 3")
io.write("stdout:    ", r.stdout)
io.write("stderr:    ", r.stderr)
print("exit code: " .. r.exit_code) -- a non-zero exit is a result, not an error

r = box.commands:run("tr a-z A-Z", { stdin = "shout\n", env = { GREETING = "hi" } })
io.write("stdin:     ", r.stdout)

local ok, err = pcall(box.commands.run, box.commands, "sleep 5", { timeout = 0.5 })
print("timeout:   " .. tostring(not ok and err)) -- TimeoutError: command timed out after 0.5 s
