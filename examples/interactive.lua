-- Drive a shell through a terminal: spawn starts it on a pty, stdin:write types into it,
-- and what the terminal shows arrives on stdout (on_stdout sees it as it comes).
local sbx = require "sbx"

local box <close> = sbx.create { metadata = { example = "interactive" } }

local screen = {}
local sh <close> = box.commands:spawn("PS1='$ ' sh -i", {
  pty = { cols = 80, rows = 24 },
  on_stdout = function(chunk) screen[#screen + 1] = chunk end,
})
print("shell pid " .. sh.pid)

--- Waits until the terminal shows `expect` past byte `from` (sbx.step returns as soon as
-- something happened, at most after its timeout).
local function wait_for(expect, from)
  local deadline = sbx.now() + 5
  while not sh.stdout:find(expect, from + 1, true) do
    assert(sbx.now() < deadline, "the terminal never showed " .. expect)
    sbx.step(0.05)
  end
end

--- Types a line and waits until the terminal shows `expect`.
local function type_line(line, expect)
  local seen = #sh.stdout
  sh.stdin:write(line .. "\n")
  wait_for(expect, seen)
end

type_line("stty size", "24 80")
sh:resize(120, 40)
type_line("stty size", "40 120")
type_line("tty", "/dev/pts/")
type_line("echo $((6 * 7))", "42")

-- ^C interrupts what runs in the foreground, as on any terminal.
type_line("sleep 100", "sleep 100")
local pause_end = sbx.now() + 0.2
while sbx.now() < pause_end do sbx.step(pause_end - sbx.now()) end
sh.stdin:write("\3")
type_line("echo back-$((1 + 1))", "back-2")

sh.stdin:write("exit 0\n")
local r = sh:wait()
print(("exit code %d; the terminal showed %d bytes in %d chunks"):format(r.exit_code, #r.stdout,
  #screen))
io.write((r.stdout:gsub("\r\n", "\n")))
