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

-- A unix socket's path, its NUL included, must fit in sizeof(sun_path): 108 bytes.
local SUN_PATH_MAX = 107
-- What goes under the base directory: mkdtemp's directory (the prefix and six random
-- characters), then the socket.
local DIR_PREFIX, SOCKET_NAME = "/sbx-", "/sbxd.sock"

--- Creates sbxd's 0700 directory under $TMPDIR when the socket path fits there, else
-- under /tmp. Returns the directory, or raises SandboxError saying why neither would do.
local function make_dir()
  local tmpdir = os.getenv("TMPDIR")
  local bases = { "/tmp" }
  if tmpdir and tmpdir ~= "" and tmpdir ~= "/tmp" then
    table.insert(bases, 1, (tmpdir:gsub("(.)/+$", "%1")))
  end
  local why = {}
  for _, base in ipairs(bases) do
    local length = #base + #DIR_PREFIX + 6 + #SOCKET_NAME
    if length > SUN_PATH_MAX then
      why[#why + 1] = ("%s: the socket path would be %d bytes, a unix socket's is at most %d")
        :format(base, length, SUN_PATH_MAX)
    else
      local dir, err = core.mkdtemp(base .. DIR_PREFIX)
      if dir then return dir end
      why[#why + 1] = base .. ": " .. tostring(err)
    end
  end
  errors.raise("SandboxError", "cannot create the embedded sbxd's directory: " .. table.concat(why, "; "))
end

-- Counts the sbxd processes started: a request made while one ran and that could not
-- reach it may be sent again when a later one runs.
local generation = 0

-- How much nicer than the host the embedded sbxd runs, and the commands it starts: the
-- host's frames come first (docs/API.md, "Where sbxd is").
local NICER = 10

--- Starts sbxd for `r` at r.socket with key r.key. The key goes in its environment, which
-- only this user can read (/proc/PID/environ), not on its command line, which everyone can.
local function spawn(r)
  local daemon, msg = core.spawn_daemon(M.find_sbxd(),
    { "--listen", "unix:" .. r.socket, "--quiet" }, 10, { SBXD_API_KEY = r.key }, NICER)
  if not daemon then
    errors.raise("SandboxError", "cannot start the embedded sbxd: " .. tostring(msg))
  end
  r.daemon = daemon
  generation = generation + 1
end

--- A random key of 256 bits, in hex.
local function new_key()
  local key, err = core.random_hex(32)
  if not key then errors.raise("SandboxError", "cannot make a key for the embedded sbxd: " .. err) end
  return key
end

local function start()
  local dir = make_dir()
  local r = { dir = dir, socket = dir .. SOCKET_NAME, key = new_key() }
  local ok, err = pcall(spawn, r)
  if not ok then
    os.remove(dir)
    error(err, 0)
  end
  -- Set after the daemon exists, so at lua_close this finalizer runs before the first
  -- daemon's and stops it before removing its directory (a daemon started again later
  -- is closed by its own finalizer first, which does not wait; stop is idempotent). The
  -- table lives as long as the module, so this runs when the Lua state closes, and the
  -- state's sbxd is gone when lua_close returns: the explicit stop waits for it (up to
  -- 2 s, then kills it).
  running = setmetatable(r, {
    __gc = function(rr)
      rr.daemon:stop(2)
      os.remove(rr.socket)
      os.remove(rr.dir)
    end,
  })
end

--- Makes sure the embedded sbxd runs, when it was started once: one that died (killed,
-- crashed) is reaped and a fresh one started at the same socket path with the same key,
-- so clients made for the old one reach the new one (which knows none of the old
-- sandboxes: their calls raise NotFoundError). Returns the current generation.
function M.revive()
  if running and not running.daemon:alive() then
    running.daemon:stop(0)
    spawn(running)
  end
  return generation
end

--- URL and key of the embedded sbxd, starting it on first use, and again when it died.
function M.endpoint()
  if running then M.revive() else start() end
  return "unix:" .. running.socket, running.key
end

--- The number of sbxd processes started so far (see revive).
function M.generation()
  return generation
end

--- The daemon handle (tests use it to find sbxd's pid), or nil before first use.
function M.daemon()
  return running and running.daemon
end

return M
