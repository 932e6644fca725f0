--- The embedded default: with no url and no SBX_URL, one private sbxd per Lua state on a
-- unix socket in a fresh 0700 directory, with a random key. It stops when the Lua state
-- closes (the daemon userdata's finalizer) or when the process dies (sbxd watches a pipe
-- whose write end only this process holds, and exits at its EOF).
local core = require "sbx.core"
local errors = require "sbx.errors"

local M = {}

local running -- { daemon =, dir =, socket =, key = } once started

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

--- sbxd's path: $SBX_SBXD, else next to the loaded sbx.core (the installed layout puts it
-- beside core.so; the dev tree builds it one level up, in build/).
function M.find_sbxd()
  local env = os.getenv("SBX_SBXD")
  if env and env ~= "" then return env end
  local so = package.searchpath("sbx.core", package.cpath)
  if so then
    local dir = dirname(so)
    for _, candidate in ipairs { dir .. "/sbxd", dirname(dir) .. "/sbxd" } do
      if file_exists(candidate) then return candidate end
    end
  end
  errors.raise("SandboxError",
    "cannot find sbxd: set SBX_SBXD, SBX_URL, or install sbxd next to sbx/core.so")
end

local function start()
  local tmp = os.getenv("TMPDIR") or "/tmp"
  local dir, err = core.mkdtemp(tmp .. "/sbx-")
  if not dir then errors.raise("SandboxError", "cannot create the sbxd directory: " .. err) end
  local socket, key = dir .. "/sbxd.sock", core.random_hex(32)
  local daemon, msg = core.spawn_daemon(M.find_sbxd(),
    { "--listen", "unix:" .. socket, "--api-key", key, "--quiet" }, 10)
  if not daemon then
    os.remove(dir)
    errors.raise("SandboxError", "cannot start the embedded sbxd: " .. tostring(msg))
  end
  -- Declared after the daemon, so at lua_close this finalizer runs first and can still
  -- stop it before removing its directory.
  running = setmetatable({ daemon = daemon, dir = dir, socket = socket, key = key }, {
    __gc = function(r)
      r.daemon:stop()
      os.remove(r.socket)
      os.remove(r.dir)
    end,
  })
end

--- URL and key of the embedded sbxd, starting it on first use.
function M.endpoint()
  if not running then start() end
  return "unix:" .. running.socket, running.key
end

--- The daemon handle (tests use it to find sbxd's pid), or nil before first use.
function M.daemon()
  return running and running.daemon
end

return M
