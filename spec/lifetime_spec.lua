-- How long things live: requests, operations and daemons are closed on every way out of
-- the call that made them, a dropped one is collected, and finalizers never wait.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"
local testing = require "sbx.testing"

local SIGSTOP, SIGCONT = 19, 18

--- Calls fn() and returns the ops core.request made meanwhile, in a weak table.
local function ops_made_by(fn)
  local made = setmetatable({}, { __mode = "k" })
  local request = core.request
  core.request = function(req)
    local op, message, kind = request(req)
    if op then made[op] = true end
    return op, message, kind
  end
  local ok, err = pcall(fn)
  core.request = request
  assert(ok, err)
  return made
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe("a request", function()
  local server

  setup(function() server = helper.sbxd() end)
  teardown(function() server.stop() end)

  it("is closed when the task waiting on it is cancelled, and then collected", function()
    local stopped = helper.sbxd()
    local box = sbx.create { url = stopped.url, api_key = stopped.key }
    testing.kill(stopped.daemon, SIGSTOP) -- the socket accepts, nobody answers
    local task
    local made = ops_made_by(function()
      task = sbx.go(function() return box:info() end) -- runs until it waits
    end)
    assert.are.equal(1, count(made))
    task:cancel()
    assert.is_true(helper.eventually(function()
      sbx.step(0)
      return task:status() ~= "running"
    end, 5))
    assert.are.equal("cancelled", task:status())
    for op in pairs(made) do assert.are.equal("sbx.op (closed)", tostring(op)) end
    task = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.are.equal(0, count(made))
    testing.kill(stopped.daemon, SIGCONT)
    box:close()
    stopped.stop()
  end)

  it("that cannot start raises InvalidArgumentError when curl refuses its url", function()
    -- curl takes strings of up to 8 MB; a longer url used to go out with no url at all.
    local long_id = ("a"):rep(8 * 1000 * 1000 + 1)
    local err = helper.error_of(sbx.connect, long_id, { url = server.url, api_key = server.key })
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
    assert.are.equal("POST: the request cannot start: the url is too long for curl", err.message)
  end)

  it("that cannot start raises InvalidArgumentError when curl refuses its unix socket", function()
    -- A unix socket path curl refused made it connect to localhost port 80 instead.
    local url = "unix:/" .. ("a"):rep(8 * 1000 * 1000 + 1)
    local err = helper.error_of(sbx.list, { url = url })
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err):sub(1, 200))
    assert.are.equal("GET: the request cannot start: the unix socket path is too long for curl",
      err.message)
  end)
end)

describe("an operation", function()
  local server, box

  setup(function()
    -- A reader that goes leaves its command --resume-grace to come back: a short one.
    server = helper.sbxd { args = { "--resume-grace", "0.3" } }
    box = sbx.create { url = server.url, api_key = server.key }
  end)
  teardown(function()
    box:close()
    server.stop()
  end)

  it("that is dropped while its command runs is collected, and the command killed", function()
    local weak = setmetatable({}, { __mode = "k" })
    -- The op exists only inside this function: nothing but the weak table sees it after.
    local function start_and_drop()
      local op = assert(core.request {
        method = "POST", url = server.url .. "/sandboxes/" .. box.id .. "/processes",
        headers = { "Accept: text/event-stream", "Authorization: Bearer " .. server.key },
        body = '{"cmd":"sleep 71.25"}', sse = true,
      })
      weak[op] = true
      assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 71.25") > 0 end, 5))
    end
    start_and_drop()
    collectgarbage()
    collectgarbage()
    assert.are.equal(0, count(weak))
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 71.25") == 0 end, 5),
      "the command outlived its dropped stream")
  end)

  it("says what it is and whether it is closed", function()
    local op = assert(core.request { method = "GET", url = server.url .. "/sandboxes",
      headers = { "Authorization: Bearer " .. server.key } })
    assert.matches("^sbx%.op %(0x%x+%)$", tostring(op))
    op:close()
    assert.are.equal("sbx.op (closed)", tostring(op))
    op:close() -- idempotent
  end)
end)

describe("a daemon", function()
  local ARGS = { "--listen", "127.0.0.1:0", "--api-key", "k", "--quiet" }

  local function spawn()
    return assert(core.spawn_daemon(helper.SBXD, ARGS, 10))
  end

  it("says what it is; an explicit stop waits for sbxd to exit", function()
    local d = spawn()
    local pid = d:pid()
    assert.are.equal("sbx.daemon (pid " .. pid .. ")", tostring(d))
    assert.is_true(d:alive())
    d:stop()
    assert.is_false(helper.alive(pid))
    assert.is_false(d:alive())
    assert.are.equal("sbx.daemon (closed)", tostring(d))
  end)

  it("is closed by <close> without waiting, and the error value is not a timeout", function()
    local pid
    local t0 = core.now()
    local ok, err = pcall(function()
      local d <close> = spawn()
      pid = d:pid()
      testing.kill(d, SIGSTOP) -- it cannot see its pipe's EOF until it goes on
      error(30, 0)             -- a number: once taken for a timeout of 30 s
    end)
    local elapsed = core.now() - t0
    os.execute("kill -CONT " .. pid)
    assert.is_false(ok)
    assert.are.equal(30, err)
    assert.is_true(elapsed < 10, ("__close waited %.1f s"):format(elapsed))
    assert.is_true(helper.eventually(function() return not helper.alive(pid) end, 5),
      "sbxd did not exit at its pipe's EOF")
  end)

  it("is finalized without waiting for sbxd to exit", function()
    local pid
    local function start_and_drop()
      local d = spawn()
      pid = d:pid()
      testing.kill(d, SIGSTOP)
    end
    start_and_drop()
    local t0 = core.now()
    collectgarbage()
    collectgarbage()
    local elapsed = core.now() - t0
    os.execute("kill -CONT " .. pid)
    assert.is_true(elapsed < 1, ("__gc waited %.1f s"):format(elapsed))
    assert.is_true(helper.eventually(function() return not helper.alive(pid) end, 5),
      "sbxd did not exit at its pipe's EOF")
  end)
end)
