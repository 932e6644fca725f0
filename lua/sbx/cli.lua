--- The `sbx` command line (bin/sbx): sandboxes and their commands from a terminal, on the
-- public sbx API. `main(argv)` parses the arguments, runs one command and returns the
-- exit code; it never calls os.exit, so it can be driven from Lua as well.
local argparse = require "argparse"
local sbx = require "sbx"

local M = {}

local errors = sbx.errors

-- Exit codes besides a command's own.
local EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

-- Seconds between two looks for ^C while a call waits (see drive).
local TICK = 0.2
-- Seconds an interrupted call gets to close what it waited on.
local CANCEL_WAIT = 2
-- `sbx logs` without -f on a running process: it stops once no output came for LOGS_IDLE
-- seconds, or for LOGS_FIRST_WAIT before the first (the attach's own round trip).
local LOGS_IDLE, LOGS_FIRST_WAIT = 0.3, 2
-- `sbx spawn`: the most bytes of stdin read at once.
local STDIN_CHUNK = 64 * 1024

local DAEMON_HINT = [[
sbx: SBX_URL is not set: sbx needs a running sbxd (one it started itself would end with
this command). Start one in another terminal and run the export line it prints:
  sbx daemon
]]

local TOP_EPILOG = [[
Environment:
   SBX_URL                 where sbxd listens: http://HOST:PORT or unix:/path
                           (`sbx daemon` prints it)
   SBX_API_KEY             sbxd's key

Exit status: `run` exits with its command's code (128+N when signal N ended
it), the others with 0. An error prints `sbx: Kind: message` and exits 1; a
usage error, or no SBX_URL, exits 2; ^C exits 130; a reader of the output that
went away (| head) ends the command and sbx with 141.]]

--- A usage error or a request for help/version, raised out of argparse (whose own
-- handlers would print and os.exit) to main.
local Stop = {}

local function stop(fields)
  error(setmetatable(fields, Stop), 0)
end

--- "K=V" -> { K, V }; argparse reports the message of a nil result as a usage error.
local function key_value(what)
  return function(s)
    local k, v = s:match("^([^=]+)=(.*)$")
    if not k then return nil, ("%s expects K=V, got '%s'"):format(what, s) end
    return { k, v }
  end
end

--- A number ("a number of seconds", "a number of CPUs": `kind` names it).
local function number_of(what, kind)
  return function(s)
    local n = tonumber(s)
    if not n then return nil, ("%s expects %s, got '%s'"):format(what, kind, s) end
    return n
  end
end

local function count_of(what)
  return function(s)
    local n = math.tointeger(tonumber(s))
    if not n or n <= 0 then return nil, ("%s expects a positive whole number, got '%s'"):format(what, s) end
    return n
  end
end

--- { {K, V}, ... } (a repeated K=V option) -> { K = V } (the last one wins), or nil.
local function to_map(pairs_list)
  if not pairs_list or #pairs_list == 0 then return nil end
  local map = {}
  for _, kv in ipairs(pairs_list) do map[kv[1]] = kv[2] end
  return map
end

-- Output -------------------------------------------------------------------------------

-- What a write raises when the reader of sbx's output went away (`sbx run ID yes | head`;
-- main() ignores SIGPIPE so that the write fails instead of ending sbx): a run's or a
-- session's command is killed at once, as for any callback's error, and sbx exits as a
-- program killed by SIGPIPE would, quietly.
local READER_GONE = setmetatable({}, {
  __tostring = function() return "the reader of the output went away" end,
})
local EPIPE, EXIT_READER_GONE = 32, 128 + 13

--- Writes and flushes at once: output reaches the terminal (or pipe) as it arrives. A
-- write that fails raises, which stops the command.
local function writer(f, name)
  return function(chunk)
    local ok, err, code = f:write(chunk)
    if ok then ok, err, code = f:flush() end
    if ok then return end
    if code == EPIPE then error(READER_GONE, 0) end
    error(("cannot write to %s: %s"):format(name, tostring(err)), 0)
  end
end

--- A table cell: control characters shown as escapes, so that a row stays one line.
local function cell(v)
  if v == nil or v == "" then return "-" end
  return (tostring(v):gsub("%c", function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t" end
    return ("\\x%02x"):format(c:byte())
  end))
end

--- Seconds since the epoch as UTC, ISO 8601 ("2025-01-31T12:00:05Z").
local function utc(t)
  if type(t) ~= "number" then return "-" end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

--- A metadata table as "k=v,k2=v2", keys sorted; "-" when empty.
local function metadata_text(metadata)
  local keys = {}
  for k in pairs(metadata or {}) do keys[#keys + 1] = k end
  if #keys == 0 then return "-" end
  table.sort(keys)
  for i, k in ipairs(keys) do keys[i] = k .. "=" .. tostring(metadata[k]) end
  return cell(table.concat(keys, ","))
end

--- Columns padded to their widest cell, two spaces apart; the last one is not padded.
local function print_table(header, rows)
  local widths = {}
  for i, h in ipairs(header) do widths[i] = #h end
  for _, row in ipairs(rows) do
    for i, c in ipairs(row) do widths[i] = math.max(widths[i], #c) end
  end
  local function line(cells)
    local parts = {}
    for i, c in ipairs(cells) do
      parts[i] = i < #cells and c .. (" "):rep(widths[i] - #c) or c
    end
    io.stdout:write(table.concat(parts, "  "), "\n")
  end
  line(header)
  for _, row in ipairs(rows) do line(row) end
end

-- Waiting with ^C ----------------------------------------------------------------------

--- lua5.4 turns SIGINT into the error "interrupted!", raised at the next Lua instruction.
local function is_interrupt(err)
  return type(err) == "string" and err:find("interrupted!", 1, true) ~= nil
end

--- Runs fn() in a task and steps the loop in turns of TICK seconds until it ends: a call
-- blocked in the main chunk runs no Lua code until its I/O completes, so ^C would wait
-- for that. Returns true and fn's results (or raises fn's error); false on ^C, once the
-- task was cancelled (what it waited on is closed: a run's command is killed, an
-- attach is let go) or CANCEL_WAIT passed.
local function drive(fn)
  local t = sbx.go(fn)
  local ok, err = pcall(function()
    while t:status() == "running" do sbx.step(TICK) end
  end)
  if ok then return true, t:wait() end
  if not is_interrupt(err) then error(err, 0) end
  t:cancel()
  local deadline = sbx.now() + CANCEL_WAIT
  while t:status() == "running" and sbx.now() < deadline do sbx.step(0.05) end
  return false
end

-- Commands -----------------------------------------------------------------------------

local actions = {}

function actions.create(a)
  local box = sbx.create {
    timeout = a.timeout, env = to_map(a.env), network = a.network or nil,
    metadata = to_map(a.metadata), memory_mb = a.memory, pids = a.pids, cpus = a.cpus,
  }
  -- the sandbox outlives this command: box:close() would kill it
  io.stdout:write(box.id, "\n")
  return 0
end

function actions.ls(a)
  local rows = {}
  for _, info in ipairs(sbx.list { metadata = to_map(a.metadata) }) do
    if a.quiet then
      io.stdout:write(info.id, "\n")
    else
      rows[#rows + 1] = { cell(info.id), cell(info.state), utc(info.started_at),
        utc(info.expires_at), metadata_text(info.metadata) }
    end
  end
  if not a.quiet then print_table({ "ID", "STATE", "STARTED", "EXPIRES", "METADATA" }, rows) end
  return 0
end

--- A sandbox's info from the list: sbx.connect would resume a paused one.
local function find_info(id)
  for _, info in ipairs(sbx.list()) do
    if info.id == id then return info end
  end
  errors.raise("NotFoundError", ("no sandbox '%s'"):format(id), { status = 404 })
end

function actions.info(a)
  local info = find_info(a.id)
  local fields = {
    { "id", cell(info.id) }, { "state", cell(info.state) },
    { "started_at", utc(info.started_at) }, { "expires_at", utc(info.expires_at) },
    { "network", tostring(info.network) }, { "isolation", cell(info.isolation) },
    { "metadata", metadata_text(info.metadata) },
  }
  for _, f in ipairs(fields) do io.stdout:write(("%-11s %s\n"):format(f[1], f[2])) end
  return 0
end

function actions.kill(a)
  sbx.connect(a.id):kill()
  return 0
end

function actions.pause(a)
  -- pausing a paused sandbox does nothing; sbx.connect would resume it first
  if find_info(a.id).state == "paused" then return 0 end
  sbx.connect(a.id):pause()
  return 0
end

function actions.resume(a)
  sbx.connect(a.id):resume()
  return 0
end

--- Kills the commands of `box` tagged `tag`: the ones a cancelled run may have left to
-- sbxd's resume grace (its kill request is sent as its stream closes, and this process
-- is about to exit).
local function kill_tagged(box, tag)
  for _, p in ipairs(box.commands:list()) do
    if p.tag == tag then box.commands:kill(p.pid) end
  end
end

function actions.run(a)
  local cmd = table.concat(a.cmd, " ")
  local stdin = a.stdin and io.stdin:read("a") or nil
  -- a tag of this run alone, to find its command again after ^C
  local tag = ("sbx-run-%08x"):format(math.random(0, 0xffffffff))
  local box
  local ok, done, result = pcall(drive, function()
    box = sbx.connect(a.id)
    return box.commands:run(cmd, {
      cwd = a.cwd, env = to_map(a.env), user = a.user, timeout = a.timeout, stdin = stdin,
      tag = tag, on_stdout = writer(io.stdout, "stdout"), on_stderr = writer(io.stderr, "stderr"),
    })
  end)
  if not ok then
    -- the command's kill would go out only as the loop turns on, and sbx exits now
    if done == READER_GONE and box then pcall(kill_tagged, box, tag) end
    error(done, 0)
  end
  if done then return result.exit_code end
  if box then pcall(kill_tagged, box, tag) end
  return EXIT_INTERRUPTED
end

--- The size of the terminal on stdin, else on stdout: cols, rows; 80, 24 without one.
local function terminal_size(core)
  local cols, rows = core.tty_size(0)
  if not cols then cols, rows = core.tty_size(1) end
  return cols or 80, rows or 24
end

--- Gives the session what comes on stdin, until its end or the process's: EOF becomes
-- the session's (with a pty, the terminal's EOF character). Returns whether stdin is
-- still open. A write to a process that has exited ends the input.
local function forward_stdin(core, s)
  local data = core.read_fd(0, STDIN_CHUNK)
  local ok, err = pcall(function()
    if data and data ~= "" then s.stdin:write(data) else s.stdin:close() end
  end)
  if not ok and not errors.is(err, "ConflictError") then error(err, 0) end
  return ok and data ~= nil and data ~= ""
end

--- Steps sbx and the session until `t` (the session's wait) ends, waiting on stdin and
-- sbx's descriptor at once; a resize of the raw terminal `raw` resizes the pty.
local function run_session(core, s, t, raw)
  local stdin_open = true
  while t:status() == "running" do
    local fds = { sbx.pollfd() }
    if stdin_open then fds[2] = 0 end
    local wait_for = sbx.timeout()
    if not wait_for or wait_for > TICK then wait_for = TICK end
    local ready = core.wait_readable(fds, wait_for)
    -- a resize first: typed after it, input that came with it is meant for the new size
    if raw and raw:resized() then s:resize(terminal_size(core)) end
    if stdin_open and (ready[1] == 0 or ready[2] == 0) then stdin_open = forward_stdin(core, s) end
    sbx.step(0)
  end
end

function actions.spawn(a)
  local core = require "sbx.core"
  local box = sbx.connect(a.id)
  local pty
  if a.tty then
    local cols, rows = terminal_size(core)
    pty = { cols = cols, rows = rows }
  end
  -- raw only when stdin is a terminal, from before the command's first output; restored
  -- however this function is left (and by the signals that would end sbx first)
  local raw <close> = a.tty and core.tty_raw(0) or nil
  local s <close> = box.commands:spawn(table.concat(a.cmd, " "), {
    cwd = a.cwd, env = to_map(a.env), user = a.user, timeout = a.timeout, pty = pty,
    on_stdout = writer(io.stdout, "stdout"), on_stderr = writer(io.stderr, "stderr"),
  })
  local t = sbx.go(s.wait, s)
  local ok, result = pcall(function()
    run_session(core, s, t, raw)
    return t:wait()
  end)
  if raw then raw:restore() end
  if ok then return result.exit_code end
  -- the session's close would kill the process in the background, and sbx exits at once
  if is_interrupt(result) or result == READER_GONE then pcall(box.commands.kill, box.commands, s.pid) end
  if is_interrupt(result) then return EXIT_INTERRUPTED end
  error(result, 0)
end

function actions.ps(a)
  local rows = {}
  for _, p in ipairs(sbx.connect(a.id).commands:list()) do
    rows[#rows + 1] = { tostring(p.pid), cell(p.tag), utc(p.started_at), cell(p.cmd) }
  end
  print_table({ "PID", "TAG", "STARTED", "CMD" }, rows)
  return 0
end

--- Whether process `pid` of `box` is running (commands:list() shows running ones only).
local function is_running(box, pid)
  for _, p in ipairs(box.commands:list()) do
    if p.pid == pid then return true end
  end
  return false
end

--- The end of a process as its wait reports it: a result, or an error with one (a
-- non-zero exit, its timeout, its sandbox's end) is the output's end; other errors
-- (no such process) are raised.
local function wait_output(h, on_stdout, on_stderr)
  local ok, err = pcall(h.wait, h, on_stdout, on_stderr)
  if not ok and not (type(err) == "table" and err.result) then error(err, 0) end
end

function actions.logs(a)
  local box, h, follow
  if not drive(function()
    box = sbx.connect(a.id)
    h = box.commands:connect(a.pid)
    -- a process that has ended replays its whole log and its end: exact, no guessing
    follow = a.follow or not is_running(box, a.pid)
  end) then
    return EXIT_INTERRUPTED
  end
  local last -- when output last came; nil before the first
  local function out(f, name)
    local write = writer(f, name)
    return function(chunk)
      last = sbx.now()
      write(chunk)
    end
  end
  local t = sbx.go(wait_output, h, out(io.stdout, "stdout"), out(io.stderr, "stderr"))
  local started = sbx.now()
  local function quiet()
    if last then return sbx.now() - last >= a.idle end
    return sbx.now() - started >= math.max(a.idle, LOGS_FIRST_WAIT)
  end
  local ok, err = pcall(function()
    while t:status() == "running" and (follow or not quiet()) do
      sbx.step(follow and TICK or math.min(TICK, a.idle / 4))
    end
  end)
  if ok and t:status() ~= "running" then
    t:wait()
    return 0
  end
  h:disconnect()
  t:cancel()
  if ok then return 0 end
  if not is_interrupt(err) then error(err, 0) end
  return EXIT_INTERRUPTED
end

--- A shell word: the value as it is when it needs no quoting, else in single quotes.
local function shell_word(s)
  if s:match("^[%w@%%+=:,./_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function actions.daemon(a)
  local core = require "sbx.core"
  local embedded = require "sbx.embedded"
  local key = core.random_hex(32)
  if not key then errors.raise("SandboxError", "cannot make a key for sbxd") end
  local args = { "--listen", a.listen }
  if a.quiet then args[#args + 1] = "--quiet" end
  for _, x in ipairs(a.sbxd_options) do args[#args + 1] = x end
  -- the key goes in sbxd's environment, which only this user can read, not on its
  -- command line, which everyone can; sbxd exits when this process does (its parent
  -- pipe), however that happens
  local d, line = core.spawn_daemon(embedded.find_sbxd(), args, 10, { SBXD_API_KEY = key })
  if not d then errors.raise("SandboxError", "cannot start sbxd: " .. tostring(line)) end
  local addr = line:match("^ready (%S+)")
  if not addr then
    d:stop(5)
    errors.raise("SandboxError", "sbxd's ready line is not understood: " .. line)
  end
  local url = addr:match("^unix:") and addr or "http://" .. addr
  io.stdout:write(("export SBX_URL=%s SBX_API_KEY=%s\n"):format(shell_word(url), key))
  io.stdout:flush()
  io.stderr:write(("sbx: sbxd (pid %d) listens at %s; ^C stops it and kills its sandboxes\n")
    :format(d:pid(), url))
  local ok, err = pcall(function()
    while d:alive() do sbx.step(TICK) end
  end)
  if ok then
    d:stop(0)
    io.stderr:write("sbx: sbxd exited\n")
    return EXIT_ERROR
  end
  d:stop(5)
  if not is_interrupt(err) then error(err, 0) end
  return EXIT_INTERRUPTED
end

-- The commands that wait in their own way (drive, or a loop of their own); the others run
-- in drive.
local SELF_DRIVEN = { run = true, logs = true, daemon = true, spawn = true }

-- The parser ---------------------------------------------------------------------------

--- -h/--help that stops the parse (argparse's own would print and os.exit).
local function add_help(p)
  p:add_help { action = function() stop { help = p:get_help() } end }
  p:help_max_width(80)
  p:help_description_margin(27)
  return p
end

--- Text of a help paragraph: written on several lines here, wrapped by argparse there.
local function para(text)
  return (text:gsub("\n$", ""):gsub("([^\n])\n([^\n])", "%1 %2"))
end

local function command(parser, name, summary, description)
  return add_help(parser:command(name):summary(summary):description(para(description or summary)))
end

local function id_argument(c)
  c:argument("id", "The sandbox's id (sbx_...).")
end

local function env_option(c, what)
  c:option("--env", what):argname("<K=V>"):count("*"):convert(key_value("--env"))
end

local function build_parser()
  local p = add_help(argparse("sbx", "Run commands in sandboxes of an sbxd, from a terminal."))
  p:epilog(TOP_EPILOG)
  p:command_target("command")
  p:flag("--version", "Print the version and exit."):action(function()
    stop { version = "sbx " .. sbx.VERSION }
  end)

  local c = command(p, "create", "Create a sandbox and print its id.",
    "Create a sandbox and print its id. It lives until `sbx kill` or its lifetime ends.")
  c:option("--timeout", "Lifetime in seconds (default 300); paused time does not count.")
    :argname("<S>"):convert(number_of("--timeout", "a number of seconds"))
  env_option(c, "A variable of every command's environment (repeatable).")
  c:flag("--network", "Let its processes reach the network.")
  c:option("--metadata", "A metadata entry, shown by `ls` and `info` (repeatable).")
    :argname("<K=V>"):count("*"):convert(key_value("--metadata"))
  c:option("--memory", "Memory limit in MiB."):argname("<MB>"):convert(count_of("--memory"))
  c:option("--pids", "Most processes and threads at once."):argname("<N>"):convert(count_of("--pids"))
  c:option("--cpus", "CPU time, in CPUs (0.5: half of one)."):argname("<N>")
    :convert(number_of("--cpus", "a number of CPUs"))

  c = command(p, "ls", "List the sandboxes.",
    "List the sandboxes: id, state, start and expiry (UTC), metadata.")
  c:flag("-q --quiet", "Print the ids only.")
  c:option("--metadata", "Only those with this metadata entry (repeatable).")
    :argname("<K=V>"):count("*"):convert(key_value("--metadata"))

  c = command(p, "info", "Show a sandbox.",
    "Show a sandbox. A paused one stays paused.")
  id_argument(c)

  c = command(p, "kill", "Kill a sandbox and every process in it.")
  id_argument(c)

  c = command(p, "pause", "Pause a sandbox: its processes stop, its lifetime holds.")
  id_argument(c)

  c = command(p, "resume", "Let a paused sandbox go on.")
  id_argument(c)

  c = command(p, "run", "Run a command in a sandbox.", [[
Run a command in a sandbox: its stdout and stderr reach this terminal's as they come, and
sbx exits with its exit code (128+N when signal N ended it). The words of CMD are joined
with spaces into one string for /bin/sh -c (as ssh does): quote it as one word to keep
your shell off its `;`, `|` and `$`. Its stdin is at EOF unless --stdin is given. ^C
kills it. A paused sandbox is resumed.]])
  id_argument(c)
  c:argument("cmd", "The command (put -- before it when it has options)."):args("+")
  c:option("--cwd", "Working directory (default: the sandbox's home)."):argname("<D>")
  env_option(c, "A variable of the command's environment (repeatable).")
  c:option("--user", "The user to run as (default: user)."):argname("<U>")
  c:option("--timeout", "IDLE timeout in seconds: the command is killed once it has "
    .. "printed nothing for that long (default: none).")
    :argname("<S>"):convert(number_of("--timeout", "a number of seconds"))
  c:flag("-i --stdin", "Read this program's stdin to its end and give it to the command.")

  c = command(p, "spawn", "Run an interactive command in a sandbox.", [[
Run a command in a sandbox in an interactive session: this program's stdin goes to
it as it comes (its end: the command's EOF), its stdout and stderr come back as they
come, and sbx exits with its exit code. With -t the command runs on a terminal (a pty
of the size of yours) and, when stdin is a terminal, yours is put in raw mode (keys, ^C
included, go to the command; resizes follow) and restored when sbx ends. Without -t,
^C kills the command. The words of CMD are joined as for `run`.]])
  id_argument(c)
  c:argument("cmd", "The command (put -- before it when it has options)."):args("+")
  c:flag("-t --tty", "Run the command on a terminal; put yours in raw mode.")
  c:option("--cwd", "Working directory (default: the sandbox's home)."):argname("<D>")
  env_option(c, "A variable of the command's environment (repeatable).")
  c:option("--user", "The user to run as (default: user)."):argname("<U>")
  c:option("--timeout", "Total time limit in seconds (default: none).")
    :argname("<S>"):convert(number_of("--timeout", "a number of seconds"))

  c = command(p, "ps", "List the running commands of a sandbox.",
    "List the running commands of a sandbox: pid (inside it), tag, start (UTC), command. "
    .. "A paused sandbox is resumed.")
  id_argument(c)

  c = command(p, "logs", "Print a command's output from its start.", [[
Print the whole output of a command of the sandbox (a background one, or one that still
runs) from its first byte, stdout to stdout and stderr to stderr, as sbxd keeps it. With
-f, follow it until it ends. Without -f, a command that has ended replays to its end; one
that runs is printed until no output came for --idle seconds (its log replays at once),
and left running. A paused sandbox is resumed.]])
  id_argument(c)
  c:argument("pid", "The command's pid, as `ps` shows it."):convert(count_of("PID"))
  c:flag("-f --follow", "Follow the output until the command ends.")
  c:option("--idle", "Without -f: the pause that ends the output of a running command.")
    :argname("<S>"):default(tostring(LOGS_IDLE))
    :convert(number_of("--idle", "a number of seconds"))

  c = command(p, "daemon", "Run a standalone sbxd in the foreground.", [[
Run a standalone sbxd (the one installed beside the module, or $SBX_SBXD) with a fresh
random key, print the line that points sbx at it, `export SBX_URL=... SBX_API_KEY=...`,
and stay in the foreground until interrupted (^C): sbxd then stops and kills its
sandboxes. Options after -- go to sbxd as they are (see sbxd --help).]])
  c:option("--listen", "Where to listen: HOST:PORT (PORT 0: any free) or unix:PATH.")
    :argname("<ADDR>"):default("127.0.0.1:7070")
  c:flag("-q --quiet", "No log output from sbxd.")
  c:argument("sbxd_options", "More sbxd options, after --."):args("*")

  p.error = function(parser, msg) stop { usage = parser:get_usage(), message = msg } end
  return p
end

--- Parses argv: the arguments, or nil and the exit code once help, the version or a
-- usage error was printed.
local function parse(argv)
  local p = build_parser()
  local ok, a = pcall(p.parse, p, argv)
  if ok then return a end
  if getmetatable(a) ~= Stop then error(a, 0) end
  if a.help or a.version then
    io.stdout:write(a.help or a.version, "\n")
    return nil, 0
  end
  io.stderr:write(a.usage, "\n\nsbx: ", a.message, "\n")
  return nil, EXIT_USAGE
end

--- Runs the command line `argv` (an array of strings, without the program's name) and
-- returns the exit code.
function M.main(argv)
  local args = {}
  for i = 1, #(argv or {}) do args[i] = argv[i] end
  local a, parse_code = parse(args)
  if not a then return parse_code end
  require("sbx.core").ignore_sigpipe()
  local url = os.getenv("SBX_URL")
  if a.command ~= "daemon" and (not url or url == "") then
    io.stderr:write(DAEMON_HINT)
    return EXIT_USAGE
  end
  local ok, result = pcall(function()
    if SELF_DRIVEN[a.command] then return actions[a.command](a) end
    local done, code = drive(function() return actions[a.command](a) end)
    return done and code or EXIT_INTERRUPTED
  end)
  if ok then return result end
  if is_interrupt(result) then return EXIT_INTERRUPTED end
  if result == READER_GONE then return EXIT_READER_GONE end
  io.stderr:write("sbx: ", tostring(result), "\n")
  return EXIT_ERROR
end

return M
