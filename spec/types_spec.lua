-- The editor types (lua/sbx/types.lua, LuaCATS) against the module itself: every public
-- name the module exports is declared there, and every name declared there exists.
local sbx = require "sbx"
local helper = require "helper"

-- What other files of sbx call across modules: reachable, not part of the API.
local INTERNAL = {
  ["sbx.errors"] = { kind_for = true },
  ["sbx.Sandbox"] = { path = true, ensure_open = true, paused_more_than = true,
    resume_for_wait = true },
  ["sbx.Commands"] = { new = true },
  ["sbx.CommandHandle"] = { new = true },
  ["sbx.Session"] = { backlog = true }, -- the scheduler's, as an op's
}

-- Declared for the contract, not built yet: the spec fails once they exist, so that this
-- list goes when they come.
local NOT_BUILT = {}

--- The declarations of the types file: class -> { name = true } (fields and functions).
local function declarations()
  local f = assert(io.open("lua/sbx/types.lua"))
  local decl, class_of, current = {}, {}, nil
  for line in f:lines() do
    local class = line:match("^%-%-%-@class ([%w%.]+)")
    if class then
      current = class
      decl[class] = decl[class] or {}
    end
    local field = line:match("^%-%-%-@field ([%w_]+)")
    if field and current then decl[current][field] = true end
    local var = line:match("^local ([%w_]+) = {}")
    if var and current then class_of[var] = current end
    local owner, name = line:match("^function ([%w_]+)[%.:]([%w_]+)%(")
    if owner then
      assert(class_of[owner], "a function of an undeclared table: " .. owner)
      decl[class_of[owner]][name] = true
    end
    if not line:match("^%-%-%-") and not line:match("^local ") then current = nil end
  end
  f:close()
  return decl
end

local DECL = declarations()

--- The public names of a table: its keys, less metamethods and the internal ones.
local function public(t, class, only_functions)
  local out = {}
  for k, v in pairs(t) do
    if type(k) == "string" and not k:match("^__") and not (INTERNAL[class] or {})[k]
      and (not only_functions or type(v) == "function") then
      out[k] = true
    end
  end
  return out
end

local function sorted(set)
  local out = {}
  for k in pairs(set) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- Asserts that the module's public names of `class` are its declared ones, less those
--- not built yet (which must indeed be missing); `data` names the declared fields that
--- are data on instances, not in the methods' table.
local function same(class, exported, data)
  local declared = {}
  for k in pairs(DECL[class] or {}) do
    if not (data or {})[k] then declared[k] = true end
  end
  for k in pairs(NOT_BUILT[class] or {}) do
    assert.is_nil(exported[k], class .. "." .. k .. " exists now: take it off NOT_BUILT")
    declared[k] = nil
  end
  assert.are.same(sorted(declared), sorted(exported), class)
end

describe("the editor types", function()
  local server, box
  setup(function()
    server = helper.sbxd { tcp = false }
    box = sbx.create { url = server.url, api_key = server.key }
  end)
  teardown(function()
    box:close()
    server.stop()
  end)

  it("declare the module table and sbx.errors, names and kinds", function()
    same("sbx", public(sbx, "sbx"))
    same("sbx.errors", public(sbx.errors, "sbx.errors"))
    local kinds = {}
    for line in io.lines("lua/sbx/types.lua") do
      local kind = line:match('^%-%-%-| "(%w+)"')
      if kind then kinds[kind] = true end
    end
    local built = {}
    for k, v in pairs(sbx.errors) do
      if type(v) == "string" then built[k] = true end
    end
    assert.are.same(sorted(built), sorted(kinds))
  end)

  it("declare a sandbox's, its commands' and a handle's methods and fields", function()
    same("sbx.Sandbox", public(getmetatable(box).__index, "sbx.Sandbox", true),
      { id = true, commands = true })
    assert.is_string(box.id)
    assert.is_table(box.commands)
    same("sbx.Commands", public(getmetatable(box.commands).__index, "sbx.Commands", true))
    local h = box.commands:run("echo hi", { background = true })
    same("sbx.CommandHandle", public(require "sbx.handle", "sbx.CommandHandle", true),
      { pid = true, stdout = true, stderr = true })
    assert.is_number(h.pid)
    h:wait()
    assert.are.equal("hi\n", h.stdout)
    assert.are.equal("", h.stderr)
  end)

  it("declare a session's methods and fields, and its stdin's", function()
    local session = require "sbx.session"
    same("sbx.Session", public(session.Session, "sbx.Session", true),
      { pid = true, stdout = true, stderr = true, stdin = true })
    same("sbx.SessionStdin", public(session.Stdin, "sbx.SessionStdin", true))
    local s <close> = box.commands:spawn("cat")
    assert.is_number(s.pid)
    s.stdin:write("hi")
    s.stdin:close()
    assert.are.equal(0, s:wait().exit_code)
    assert.are.equal("hi", s.stdout)
    assert.are.equal("", s.stderr)
  end)

  it("declare a task's methods and an error's fields", function()
    local t = sbx.go(function() end)
    same("sbx.Task", public(getmetatable(t).__index, "sbx.Task", true))
    local ok, err = pcall(box.commands.run, box.commands, "")
    assert.is_false(ok)
    for field in pairs { kind = true, message = true } do
      assert.is_true(DECL["sbx.Error"][field])
      assert.is_not_nil(err[field])
    end
  end)
end)
