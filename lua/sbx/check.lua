--- Argument validation shared by every public function: a bad argument raises
-- InvalidArgumentError naming the function and the argument, before any request is sent.
local errors = require "sbx.errors"

local M = {}

local function fail(fname, what, msg)
  errors.raise("InvalidArgumentError", ("%s: %s %s"):format(fname, what, msg))
end

local function is_string_map(v)
  if type(v) ~= "table" then return false end
  for k, x in pairs(v) do
    if type(k) ~= "string" or type(x) ~= "string" then return false end
  end
  return true
end

-- Commands, paths, names, env entries and metadata travel as JSON strings, and end up as
-- C strings (an exec's arguments, a path): a NUL byte cannot be in them. Commands, paths
-- and env values are bytes all the same (any other byte; those that are not UTF-8 travel
-- as base64: transport.bytes); names and metadata are text. Bytes of stdin and of a
-- session's writes are another matter: those are binary-safe, NUL included.
local function nul_in_map(v)
  for k, x in pairs(v) do
    if k:find("%z") then return ("has a key with a NUL byte: %q"):format(k) end
    if x:find("%z") then return ("has a NUL byte in the value of %q"):format(k) end
  end
end

--- s quoted, its bytes past ASCII as \xNN: a complaint about bytes that are not text shows them.
local function escaped(s)
  return (("%q"):format(s):gsub("[\128-\255]", function(c) return ("\\x%02x"):format(c:byte()) end))
end

--- The integer a number with a whole value stands for (a float too, as for Lua's own
-- functions: JSON decoders give floats), else nil.
local function whole(v)
  return type(v) == "number" and math.tointeger(v) or nil
end

local NUL_HELD = "must not hold a NUL byte"

--- A value as a complaint names it: a number as itself (inf, nan too), else its type.
local function shown(v)
  if type(v) ~= "number" then return "a " .. type(v) end
  if v ~= v then return "nan" end
  return math.type(v) == "integer" and tostring(v) or ("%.14g"):format(v)
end

--- The rule of a finite number, at least 0 (`zero_ok`) or above it; `what` tells the
-- range in the complaint.
local function finite(zero_ok, what)
  return function(v)
    if type(v) == "number" and v == v and v ~= math.huge and (v > 0 or (zero_ok and v == 0)) then return end
    return ("must be a finite number%s, not %s"):format(what, shown(v))
  end
end

--- A string without a NUL (bytes that end up as a C string).
local function text(v)
  if type(v) ~= "string" then return "must be a string" end
  if v:find("%z") then return NUL_HELD end
end

-- Each rule returns nil when the value is acceptable, else the complaint.
local RULES = {
  string = function(v) if type(v) ~= "string" then return "must be a string" end end,
  text = text,
  -- a name or a label: JSON text, so UTF-8
  label = function(v)
    local why = text(v)
    if why then return why end
    if not utf8.len(v) then return "must be UTF-8 text, not " .. escaped(v) end
  end,
  nonempty = function(v)
    if type(v) ~= "string" or v == "" then return "must be a non-empty string" end
    if v:find("%z") then return NUL_HELD end
  end,
  id = function(v)
    if type(v) ~= "string" or not v:match("^[%w_%-]+$") then
      return "must be a sandbox id (letters, digits, '_' and '-')"
    end
  end,
  boolean = function(v) if type(v) ~= "boolean" then return "must be a boolean" end end,
  ["function"] = function(v) if type(v) ~= "function" then return "must be a function" end end,
  duration = finite(true, " of seconds >= 0 (0: no limit)"),
  seconds = finite(true, " of seconds >= 0"),
  positive = finite(false, " of seconds > 0"),
  count = function(v)
    local n = whole(v)
    if not n or n <= 0 then return "must be a positive integer" end
  end,
  winsize = function(v)
    local n = whole(v)
    if not n or n < 1 or n > 65535 then return "must be an integer 1..65535" end
  end,
  amount = finite(false, " > 0"),
  env = function(v)
    if not is_string_map(v) then return "must be a table of string keys to string values" end
    for k in pairs(v) do
      if k == "" or k:find("[=%z]") or not utf8.len(k) then
        return ("has an invalid variable name %s"):format(escaped(k))
      end
    end
    return nul_in_map(v)
  end,
  map = function(v)
    if not is_string_map(v) then return "must be a table of string keys to string values" end
    for k, x in pairs(v) do
      if not (utf8.len(k) and utf8.len(x)) then
        return ("must be UTF-8 text, not %s = %s"):format(escaped(k), escaped(x))
      end
    end
    return nul_in_map(v)
  end,
  table = function(v) if type(v) ~= "table" then return "must be a table" end end,
}

-- What a value that passed its rule is used as, where that differs from the value.
local NORMAL = { count = whole, winsize = whole }

--- s quoted for a message, its bytes past ASCII as \xNN.
M.escaped = escaped

--- Checks one value against a rule name; `what` names it in the message. Returns the
-- value as it is to be used (a count as an integer).
function M.value(fname, what, v, rule)
  local complaint = RULES[rule](v)
  if complaint then fail(fname, what, complaint) end
  local normal = NORMAL[rule]
  if normal then return normal(v) end
  return v
end

--- Checks that a method was called on an object of its class: `box.info(1)` or
-- `box.commands.run("ls")` raise, naming the method and how to call it. `noun` names the
-- class ("a Sandbox"); `usage` is a format for the call, given the method's name.
function M.self(fname, obj, class, noun, usage)
  if type(obj) ~= "table" or getmetatable(obj) ~= class then
    fail(fname, "self", ("must be %s (use %s)"):format(noun, usage:format(fname)))
  end
end

-- What options(nil) returns: one shared table, read and never written.
local NO_OPTIONS = setmetatable({}, { __newindex = function() error("options are read-only", 2) end })

--- Checks an options table: nil is an empty table; every key must be in `schema`
-- (key -> rule name); nil values are allowed. Returns the table, to be read only.
function M.options(fname, opts, schema)
  if opts == nil then return NO_OPTIONS end
  if type(opts) ~= "table" then fail(fname, "options", "must be a table") end
  for k, v in pairs(opts) do
    local rule = schema[k]
    if type(k) ~= "string" or not rule then
      fail(fname, "option " .. tostring(k), "is unknown")
    end
    M.value(fname, ("option '%s'"):format(k), v, rule)
  end
  return opts
end

return M
