--- Error objects: every failure of sbx raises one of these tables.
-- err.kind, err.message, err.status (HTTP status or nil); tostring(err) is "Kind: message".
local M = {}

-- Each kind and its parent: is(err, "TimeoutError") is true for a SandboxTimeoutError.
local PARENT = {
  SbxError = false,
  TimeoutError = "SbxError",
  SandboxTimeoutError = "TimeoutError",
  NotFoundError = "SbxError",
  ConflictError = "SbxError",
  SandboxError = "SbxError",
  CommandExitError = "SbxError",
  AuthenticationError = "SbxError",
  InvalidArgumentError = "SbxError",
  CancelledError = "SbxError",
}

local Error = {}
Error.__index = Error
Error.__name = "sbx.error"

function Error.__tostring(err)
  return err.kind .. ": " .. tostring(err.message)
end

--- Raises InvalidArgumentError unless `kind` is one of the kinds (a misspelt name would
-- otherwise make is() false for ever, silently).
local function check_kind(fname, kind)
  if PARENT[kind] ~= nil then return end
  local names = {}
  for k in pairs(PARENT) do names[#names + 1] = k end
  table.sort(names)
  local err = setmetatable({ kind = "InvalidArgumentError", message = ("errors.%s: unknown kind %s "
    .. "(the kinds: %s)"):format(fname, type(kind) == "string" and ("%q"):format(kind) or tostring(kind),
    table.concat(names, ", ")) }, Error)
  error(err, 0)
end

--- Creates an error of `kind`; `fields` (optional) adds status, result, ...
function M.new(kind, message, fields)
  check_kind("new", kind)
  local err = { kind = kind, message = message }
  for k, v in pairs(fields or {}) do err[k] = v end
  return setmetatable(err, Error)
end

--- Raises a new error of `kind`. Error tables carry no position, so no level is given.
function M.raise(kind, message, fields)
  error(M.new(kind, message, fields), 0)
end

--- True when `err` is an sbx error of `kind` or of a kind below it.
function M.is(err, kind)
  check_kind("is", kind)
  if getmetatable(err) ~= Error then return false end
  local k = err.kind
  while k do
    if k == kind then return true end
    k = PARENT[k]
  end
  return false
end

--- Kind that an HTTP status maps to, when the server named none we know.
local BY_STATUS = {
  [400] = "InvalidArgumentError", [401] = "AuthenticationError", [403] = "AuthenticationError",
  [404] = "NotFoundError", [405] = "InvalidArgumentError", [409] = "ConflictError",
  [411] = "InvalidArgumentError", [413] = "InvalidArgumentError", [414] = "InvalidArgumentError",
  [431] = "InvalidArgumentError",
  -- a cap reached (--max-sandboxes, --max-procs), out of descriptors or processes: the
  -- server is fine but cannot take more now
  [429] = "SandboxError", [503] = "SandboxError",
}

function M.kind_for(status, server_kind)
  if server_kind and PARENT[server_kind] ~= nil and server_kind ~= "SbxError" then
    return server_kind
  end
  return BY_STATUS[status] or "SandboxError"
end

-- sbx.errors.TimeoutError etc.: the kind names, usable with is() and new().
for kind in pairs(PARENT) do M[kind] = kind end

return M
