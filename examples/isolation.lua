-- What a sandbox is: its own files, processes and users; paused and resumed; found again
-- by its metadata; its output streamed line by line with an idle timeout.
local sbx = require "sbx"

local box <close> = sbx.create { metadata = { example = "isolation" } }
local other <close> = sbx.create()

-- Its own home and processes: the other sandbox sees neither.
box.commands:run("echo mine > ~/note")
io.write("here:      ", box.commands:run("cat ~/note").stdout)
io.write("there:     ", other.commands:run("cat ~/note 2>&1 || true").stdout)
io.write("processes: ", box.commands:run("ps -e -o comm= | tr '\\n' ' '").stdout, "\n")

-- Commands run as `user` (uid 1000); `root` is root inside only (as an ordinary user,
-- sbxd has `user` alone and says so).
io.write("user:      ", box.commands:run("id -un").stdout)
local ok, r = pcall(box.commands.run, box.commands, "id -u", { user = "root" })
print("root:      " .. (ok and r.stdout:gsub("\n", "") or tostring(r)))

-- Paused, nothing in it runs and its lifetime stands still; a command resumes it.
box:pause()
print("state:     " .. box:info().state)
io.write("resumed:   ", box.commands:run("echo by a command").stdout)

-- Found again by its metadata.
for _, info in ipairs(sbx.list { metadata = { example = "isolation" } }) do
  print("listed:    " .. info.id .. " (" .. info.isolation .. ")")
end

-- Line by line, with an idle timeout: it may take as long as it keeps talking.
box.commands:run("for i in 1 2 3; do echo line $i; sleep 0.2; done", {
  lines = true, timeout = 1,
  on_stdout = function(line) io.write("streamed:  ", line) end,
})
