--- Sandbox objects and the module-level calls that make or find them.
local check = require "sbx.check"
local errors = require "sbx.errors"
local transport = require "sbx.transport"
local task = require "sbx.task"
local embedded = require "sbx.embedded"
local core = require "sbx.core"
local Commands = require "sbx.commands"

local M = {}

local Sandbox = {}
Sandbox.__index = Sandbox
Sandbox.__name = "sbx.Sandbox"

--- The info table users see, from the server's JSON.
local function to_info(doc)
  local metadata = {}
  for k, v in pairs(type(doc.metadata) == "table" and doc.metadata or {}) do
    metadata[k] = v
  end
  return {
    id = doc.id, state = doc.state, started_at = doc.started_at,
    expires_at = doc.expires_at, metadata = metadata, network = doc.network == true,
    isolation = doc.isolation,
  }
end

--- A Client for url/api_key/request_timeout, falling back to SBX_URL, SBX_API_KEY and
-- the embedded sbxd.
local function client_for(opts)
  local url, key = opts.url or os.getenv("SBX_URL"), opts.api_key or os.getenv("SBX_API_KEY")
  local own = not url or url == ""
  if own then url, key = embedded.endpoint() end
  return transport.new { url = url, api_key = key, request_timeout = opts.request_timeout,
    embedded = own }
end

local function new_sandbox(client, info, owned)
  local box = setmetatable({
    id = info.id, client = client, owned = owned,
    request_timeout = client.request_timeout,
  }, Sandbox)
  box.commands = Commands.new(box)
  return box
end

function Sandbox:path(suffix)
  return "/sandboxes/" .. self.id .. (suffix or "")
end

function Sandbox:ensure_open(fname)
  if self.closed then
    errors.raise("InvalidArgumentError", fname .. ": attempt to use a closed sandbox")
  end
end

--- For a wait on a command, which cannot end while the sandbox is paused: a resume, sent
-- by a task of its own so that the wait goes on at once (a cancel, a disconnect or a
-- close still finds it where it waits). A failure of it is left for the wait to tell.
function Sandbox:resume_for_wait()
  task.go(function() pcall(self.resume, self) end)
end

--- For the client's backstops of command timeouts, which sbxd holds while the sandbox is
-- paused: the sandbox's paused time in all (seconds, a pause under way included) when it
-- is more than `mark`, else nil (also when sbxd cannot tell: the backstop stands).
function Sandbox:paused_more_than(mark)
  local ok, doc = pcall(self.client.call, self.client, "GET", self:path())
  if not ok and errors.is(doc, "CancelledError") then error(doc, 0) end
  local paused = ok and type(doc) == "table" and tonumber(doc.paused_for)
  if paused and paused > mark then return paused end
  return nil
end

--- Checks that a public method was called on an open Sandbox (box:info(), not box.info()).
local function check_box(fname, box)
  check.self(fname, box, Sandbox, "a Sandbox", "box:%s()")
  box:ensure_open(fname)
end

function Sandbox:info()
  check_box("info", self)
  return to_info(self.client:call("GET", self:path()))
end

--- Deletes the sandbox on the server: true, or false when it was already gone. A kill
-- cut after it reached sbxd is sent again (a sandbox's id is never used again), and one
-- that then finds the sandbox gone says true: the first sending killed it.
local function delete(box)
  local ok, err = pcall(box.client.delete, box.client, box:path())
  if ok then return true end
  if errors.is(err, "NotFoundError") then return false end
  error(err, 0)
end

--- Kills the sandbox: true, or false when it was already gone.
function Sandbox:kill()
  check_box("kill", self)
  return delete(self)
end

--- Stops every process of the sandbox and holds its timers; true. Idempotent.
function Sandbox:pause()
  check_box("pause", self)
  self.client:call_repeatable("POST", self:path("/pause"), {})
  return true
end

--- Lets a paused sandbox go on; true. Idempotent.
function Sandbox:resume()
  check_box("resume", self)
  self.client:call_repeatable("POST", self:path("/resume"), {})
  return true
end

function Sandbox:set_timeout(seconds)
  check_box("set_timeout", self)
  check.value("set_timeout", "seconds", seconds, "positive")
  self.client:call_repeatable("POST", self:path("/timeout"), { timeout = seconds })
end

--- Marks the box closed and kills the sandbox if this object created it; idempotent.
-- `unwinding`: another error is on its way out, and a failure to reach sbxd is not raised
-- over it.
local function close_box(box, unwinding)
  if box.closed then return end
  box.closed = true
  if not box.owned then return end
  local ok, err = pcall(delete, box)
  if not ok and not unwinding then error(err, 0) end
end

function Sandbox:close()
  check.self("close", self, Sandbox, "a Sandbox", "box:%s()")
  close_box(self, false)
end

function Sandbox.__close(box, err)
  close_box(box, err ~= nil)
end

function Sandbox.__tostring(box)
  return "sbx.Sandbox(" .. box.id .. ")"
end

local CREATE_OPTIONS = {
  url = "text", api_key = "text", env = "env", timeout = "positive",
  request_timeout = "duration", network = "boolean", metadata = "map",
  memory_mb = "count", pids = "count", cpus = "amount",
}

--- `sbx:create{}` passes the module itself first: say that, not "option create is unknown".
local function check_not_module(fname, arg)
  if type(arg) == "table" and rawget(arg, fname) == M[fname] then
    errors.raise("InvalidArgumentError",
      ("%s: called on the module (use sbx.%s(...), not sbx:%s(...))"):format(fname, fname, fname))
  end
end

local CONNECT_OPTIONS = { url = "text", api_key = "text", request_timeout = "duration" }

function M.connect(id, opts)
  check_not_module("connect", id)
  check.value("connect", "id", id, "id")
  opts = check.options("connect", opts, CONNECT_OPTIONS)
  local client = client_for(opts)
  -- connecting resumes a paused sandbox (a no-op on a running one)
  local info = to_info(client:call_repeatable("POST", "/sandboxes/" .. id .. "/resume", {}))
  return new_sandbox(client, info, false)
end

local LIST_OPTIONS = {
  url = "text", api_key = "text", request_timeout = "duration", metadata = "map",
}

--- The query of a list filtered by metadata: ?metadata.KEY=VALUE&..., percent-encoded.
local function metadata_query(metadata)
  if not metadata or next(metadata) == nil then return "" end
  local function enc(s)
    return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
  end
  local keys = {}
  for k in pairs(metadata) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do keys[i] = "metadata." .. enc(k) .. "=" .. enc(metadata[k]) end
  return "?" .. table.concat(keys, "&")
end

--- Appends the sandboxes of list answer `doc` to `out`.
local function add_listed(out, doc)
  for _, info in ipairs(type(doc.sandboxes) == "table" and doc.sandboxes or {}) do
    out[#out + 1] = to_info(info)
  end
end

--- The sandboxes of every node behind a proxy (deploy/nginx), asked all at once: each
-- node answers for itself at /nodes/N/sandboxes. A node that is down has none to list
-- (its sandboxes went with it), so its 502 is skipped; any other failure is raised.
local function list_nodes(client, nodes, query, request_timeout)
  local asks = {}
  for i, node in ipairs(nodes) do
    asks[i] = task.go(function()
      local ok, doc = pcall(client.call, client, "GET", "/nodes/" .. node .. "/sandboxes" .. query, nil,
        request_timeout)
      if ok then return doc end
      if errors.is(doc, "SandboxError") and doc.status == 502 then return nil end
      error(doc, 0)
    end)
  end
  local out = {}
  local ok, err = pcall(function()
    for _, ask in ipairs(asks) do
      local doc = ask:wait()
      if doc then add_listed(out, doc) end
    end
  end)
  if not ok then
    -- a failed node, or this list cancelled: the other asks end with it
    for _, ask in ipairs(asks) do ask:cancel() end
    error(err, 0)
  end
  -- one node lists oldest first; so does the whole
  table.sort(out, function(a, b)
    if a.started_at ~= b.started_at then return (a.started_at or 0) < (b.started_at or 0) end
    return a.id < b.id
  end)
  return out
end

--- The sandboxes a list with `query` finds, of the server, or of every node behind a
-- proxy that answers with its nodes. `request_timeout`: nil for the client's.
local function listed(client, query, request_timeout)
  local ok, doc = pcall(client.call, client, "GET", "/sandboxes" .. query, nil, request_timeout)
  if ok then
    local out = {}
    add_listed(out, doc)
    return out
  end
  if not (errors.is(doc, "SbxError") and doc.nodes) then error(doc, 0) end
  return list_nodes(client, doc.nodes, query, request_timeout)
end

--- A create's lookup (Client:create): the info of the sandbox the create with `key` made,
-- found on whichever node has it, or nil when none has or none can be asked now (the
-- create is then sent again, and sbxd makes one sandbox for one key).
local function made_by(client, key)
  return function(deadline)
    local left = deadline and deadline - core.now()
    if left and left <= 0 then return nil end
    local ok, found = pcall(listed, client, "?key=" .. key, left)
    if ok then return found[1] end
    if errors.is(found, "CancelledError") then error(found, 0) end
    return nil
  end
end

function M.create(opts)
  check_not_module("create", opts)
  opts = check.options("create", opts, CREATE_OPTIONS)
  local client = client_for(opts)
  local body = {
    env = transport.bytes_map(opts.env), timeout = opts.timeout, network = opts.network,
    metadata = opts.metadata,
    memory_mb = opts.memory_mb, pids = opts.pids, cpus = opts.cpus,
  }
  -- sent again after a cut with its key, it makes one sandbox (docs/PROTOCOL.md "A create
  -- sent again"); without randomness for a key, it is sent once
  local key = core.random_hex(12)
  local doc = key and client:create("/sandboxes?key=" .. key, body, made_by(client, key))
    or client:call("POST", "/sandboxes", body)
  return new_sandbox(client, to_info(doc), true)
end

function M.list(opts)
  check_not_module("list", opts)
  opts = check.options("list", opts, LIST_OPTIONS)
  return listed(client_for(opts), metadata_query(opts.metadata))
end

return M
