---@meta sbx
-- luacheck: ignore
-- Declarations of sbx's public API for editors (LuaCATS: the annotations lua-language-server
-- reads). Installed with the module; it runs nothing. docs/API.md is the guide; the names
-- here are checked against the module by spec/types_spec.lua.

---@alias sbx.ErrorKind
---| "SbxError"
---| "TimeoutError"
---| "SandboxTimeoutError"
---| "NotFoundError"
---| "ConflictError"
---| "SandboxError"
---| "CommandExitError"
---| "AuthenticationError"
---| "InvalidArgumentError"
---| "CancelledError"

---@alias sbx.Callback fun(chunk: string)

---An error object: every failure of sbx raises one (`tostring(err)` is "Kind: message").
---@class sbx.Error
---@field kind sbx.ErrorKind
---@field message string
---@field status integer? the HTTP status, when the server answered with one
---@field result sbx.CommandResult? the output so far (CommandExitError, TimeoutError, NotFoundError during a command)

---@class sbx.errors
---@field SbxError "SbxError"
---@field TimeoutError "TimeoutError"
---@field SandboxTimeoutError "SandboxTimeoutError"
---@field NotFoundError "NotFoundError"
---@field ConflictError "ConflictError"
---@field SandboxError "SandboxError"
---@field CommandExitError "CommandExitError"
---@field AuthenticationError "AuthenticationError"
---@field InvalidArgumentError "InvalidArgumentError"
---@field CancelledError "CancelledError"
local errors = {}

---Whether `err` is an sbx error of `kind` or of a kind below it.
---@param err any
---@param kind sbx.ErrorKind
---@return boolean
function errors.is(err, kind) end

---Makes an error object of `kind`; `fields` (optional) adds status, result, ...
---@param kind sbx.ErrorKind
---@param message string
---@param fields table?
---@return sbx.Error
function errors.new(kind, message, fields) end

---Raises a new error object of `kind`.
---@param kind sbx.ErrorKind
---@param message string
---@param fields table?
function errors.raise(kind, message, fields) end

---@class sbx.CreateOptions
---@field url string? "http://HOST:PORT" or "unix:/path"; default SBX_URL, else the embedded sbxd
---@field api_key string? default SBX_API_KEY
---@field env table<string, string>? sandbox-wide environment, under each command's env
---@field timeout number? the sandbox's lifetime in seconds (default 300)
---@field request_timeout number? each HTTP request's timeout in seconds (default 30)
---@field network boolean? whether its processes may reach the network (default false)
---@field metadata table<string, string>? returned by info() and list()
---@field memory_mb integer? a memory limit
---@field pids integer? a limit on processes
---@field cpus number? CPUs' worth of time

---@class sbx.ConnectOptions
---@field url string?
---@field api_key string?
---@field request_timeout number?

---@class sbx.ListOptions
---@field url string?
---@field api_key string?
---@field metadata table<string, string>? only sandboxes whose metadata has every k=v

---@class sbx.Info
---@field id string
---@field state "running"|"paused"
---@field started_at number seconds since the Unix epoch
---@field expires_at number seconds since the Unix epoch
---@field metadata table<string, string>
---@field network boolean
---@field isolation "bwrap"|"none"

---@class sbx.RunOptions
---@field cwd string?
---@field env table<string, string>?
---@field user string?
---@field timeout number? total without callbacks; idle (reset by every chunk) with them
---@field request_timeout number?
---@field stdin string? written to the process's stdin, then EOF
---@field on_stdout sbx.Callback?
---@field on_stderr sbx.Callback?
---@field lines boolean? callbacks get one complete line at a time
---@field tag string? shown by commands:list()
---@field background boolean? return a CommandHandle at once

---@class sbx.SpawnOptions
---@field cwd string?
---@field env table<string, string>?
---@field user string?
---@field timeout number? a total limit, off by default
---@field on_stdout sbx.Callback?
---@field on_stderr sbx.Callback?
---@field pty {cols: integer, rows: integer}? run on a terminal of that size

---@class sbx.CommandResult
---@field stdout string
---@field stderr string
---@field exit_code integer
---@field error string? what the server reported ("timeout", ...)
---@field pid integer

---@class sbx.ProcessInfo
---@field pid integer
---@field cmd string
---@field cwd string
---@field user string
---@field tag string?
---@field started_at number

---@class sbx.Sandbox
---@field id string
---@field commands sbx.Commands
local Sandbox = {}

---@return sbx.Info
function Sandbox:info() end

---@return true
function Sandbox:pause() end

---@return true
function Sandbox:resume() end

---@return boolean killed false if it was already gone
function Sandbox:kill() end

---The lifetime now ends `seconds` from now.
---@param seconds number
function Sandbox:set_timeout(seconds) end

---Kills the sandbox if this object created it; idempotent (also `<close>`).
function Sandbox:close() end

---@class sbx.Commands
local Commands = {}

---Runs `cmd` with /bin/sh -c; a CommandHandle at once with `background`.
---@param cmd string
---@param opts sbx.RunOptions?
---@return sbx.CommandResult|sbx.CommandHandle
function Commands:run(cmd, opts) end

---The same call as run, under the name of the explicit streaming entry point.
---@param cmd string
---@param opts sbx.RunOptions?
---@return sbx.CommandResult|sbx.CommandHandle
function Commands:run_stream(cmd, opts) end

---The sandbox's running processes.
---@return sbx.ProcessInfo[]
function Commands:list() end

---SIGKILL to a process's group: false when no such process runs.
---@param pid integer
---@return boolean
function Commands:kill(pid) end

---@param pid integer
---@param data string
function Commands:send_stdin(pid, data) end

---@param pid integer
function Commands:close_stdin(pid) end

---A handle of process `pid`, making no request until its wait.
---@param pid integer
---@return sbx.CommandHandle
function Commands:connect(pid) end

---Starts an interactive session.
---@param cmd string
---@param opts sbx.SpawnOptions?
---@return sbx.Session
function Commands:spawn(cmd, opts) end

---@class sbx.CommandHandle
---@field pid integer
---@field stdout string output received so far
---@field stderr string output received so far
local CommandHandle = {}

---The result on exit 0; raises CommandExitError (err.result) otherwise.
---@param on_stdout sbx.Callback?
---@param on_stderr sbx.Callback?
---@return sbx.CommandResult
function CommandHandle:wait(on_stdout, on_stderr) end

---@return boolean killed false if it had already exited
function CommandHandle:kill() end

---@param data string
function CommandHandle:send_stdin(data) end

function CommandHandle:close_stdin() end

---Stops receiving; the process keeps running.
function CommandHandle:disconnect() end

---@class sbx.SessionStdin
local SessionStdin = {}

---Writes bytes to the process's stdin; waits (yields in a task) while it does not read.
---@param data string
function SessionStdin:write(data) end

---EOF.
function SessionStdin:close() end

---An interactive session (a userdata: `__close` and `__gc` close it).
---@class sbx.Session
---@field pid integer
---@field stdout string output received so far
---@field stderr string output received so far
---@field stdin sbx.SessionStdin
local Session = {}

---@param sig (string|integer)? "SIGTERM" (default), "SIGINT", "SIGKILL", ... or a number
function Session:kill(sig) end

---@param cols integer
---@param rows integer
function Session:resize(cols, rows) end

---The result on exit, whatever the exit code (as run's).
---@return sbx.CommandResult
function Session:wait() end

---Kills the process and closes the connection; idempotent.
function Session:close() end

---@class sbx.Task
local Task = {}

---@return "running"|"done"|"failed"|"cancelled"
function Task:status() end

---fn's return values, or fn's error raised again.
---@return any ...
function Task:wait() end

---The task's current or next wait raises CancelledError inside it.
function Task:cancel() end

---@class sbx
---@field VERSION string
---@field errors sbx.errors
local sbx = {}

---@param opts sbx.CreateOptions?
---@return sbx.Sandbox
function sbx.create(opts) end

---@param id string
---@param opts sbx.ConnectOptions?
---@return sbx.Sandbox
function sbx.connect(id, opts) end

---@param opts sbx.ListOptions?
---@return sbx.Info[]
function sbx.list(opts) end

---Starts fn(...) as a task, at once: it runs until its first wait.
---@param fn function
---@param ... any
---@return sbx.Task
function sbx.go(fn, ...) end

---Drives all I/O once and resumes the tasks that can proceed; returns the live tasks.
---@param timeout number? 0 never blocks; nil blocks until something happens
---@return integer
function sbx.step(timeout) end

---Steps until no task is left.
function sbx.loop() end

---@return integer fd readable when step() has work
function sbx.pollfd() end

---@return "r"
function sbx.events() end

---@return number|nil seconds
function sbx.timeout() end

---Waits: yields inside a task, blocks (driving everything else) elsewhere.
---@param seconds number
function sbx.sleep(seconds) end

---@return number seconds, monotonic
function sbx.now() end

return sbx
