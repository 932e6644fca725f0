-- A cut stream resumes: the bytes a run returns are the command's, exactly, however often
-- the connection breaks. The cuts come from spec/cutproxy.lua between the client and a
-- real sbxd, for fault injection only: a real server does not drop its connections
-- mid-stream.
local uv = require "luv_once"
local sbx = require "sbx"
local helper = require "helper"
local cutproxy = require "cutproxy"

local drive = cutproxy.drive

describe("a run whose stream is cut", function()
  local server, box, port
  setup(function()
    server = helper.sbxd()
    port = tonumber(server.url:match(":(%d+)$"))
    box = sbx.create { url = server.url, api_key = server.key }
    box.commands:run("head -c 64M /dev/urandom > /tmp/random")
  end)
  teardown(function()
    box:close()
    server.stop()
  end)

  local function expected()
    return box.commands:run("sha256sum /tmp/random | cut -d' ' -f1").stdout:gsub("\n$", "")
  end

  it("resumes at 100 random cuts and returns every byte once (collected)", function()
    local proxy = cutproxy.start(port, { cuts = 100, most = 1000000 })
    local r = drive(function()
      local via = sbx.connect(box.id, { url = proxy.url, api_key = server.key })
      return via.commands:run("cat /tmp/random")
    end, 120)
    proxy:close()
    assert.are.equal(100, proxy.cuts)
    assert.are.equal(64 * 1024 * 1024, #r.stdout)
    assert.are.equal(expected(), helper.sha256(r.stdout))
    assert.are.equal(0, r.exit_code)
  end)

  it("resumes at 100 random cuts and hands the callback every byte once", function()
    local proxy = cutproxy.start(port, { cuts = 100, most = 1000000 })
    local chunks = {}
    local r = drive(function()
      local via = sbx.connect(box.id, { url = proxy.url, api_key = server.key })
      return via.commands:run("cat /tmp/random", { on_stdout = function(c) chunks[#chunks + 1] = c end })
    end, 120)
    proxy:close()
    assert.are.equal(100, proxy.cuts)
    local got = table.concat(chunks)
    assert.are.equal(64 * 1024 * 1024, #got)
    assert.is_true(got == r.stdout, "the chunks and the result differ")
    assert.are.equal(expected(), helper.sha256(got))
  end)

  it("raises SandboxError when the stream cannot be resumed within the request timeout", function()
    local proxy = cutproxy.start(port, { cuts = 1, most = 5000 })
    -- the cut, then the proxy goes: every attach is refused
    local t = sbx.go(function()
      local via = sbx.connect(box.id, { url = proxy.url, api_key = server.key, request_timeout = 1 })
      return via.commands:run("cat /tmp/random")
    end)
    local deadline = sbx.now() + 10
    while proxy.cuts == 0 and sbx.now() < deadline do
      sbx.step(0.001)
      uv.run("nowait")
    end
    proxy:close()
    local err = helper.error_of(function() return drive(function() return t:wait() end, 10) end)
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    assert.matches("could not be resumed", err.message)
  end)
end)

describe("a run whose reader goes on purpose", function()
  -- sbxd holds a foreground command whose reader went away for --resume-grace (10 s
  -- here, the default); these go well within it, because the client kills the command
  -- itself as its stream closes.
  local ctx = helper.sandbox_per_block(setup, teardown)

  local function running(pattern)
    return helper.eventually(function()
      sbx.step(0.01)
      return helper.sh("pgrep -f '" .. pattern .. "' || true") ~= ""
    end, 5)
  end

  local function gone_within(pattern, seconds)
    return helper.eventually(function()
      sbx.step(0.01)
      return helper.sh("pgrep -f '" .. pattern .. "' || true") == ""
    end, seconds)
  end

  it("kills the command at once when its task is cancelled", function()
    local t = sbx.go(function() return ctx.box.commands:run("sleep 60.7101") end)
    assert.is_true(running("[s]leep 60.7101"))
    t:cancel()
    assert.are.equal("CancelledError", helper.error_of(t.wait, t).kind)
    assert.is_true(gone_within("[s]leep 60.7101", 3), "the command outlived its cancel")
  end)

  it("kills the command at once when cancelled after its stream attached again", function()
    -- Commands past the client's 2 bulk buffers read through curl's smallest; with 1 MB
    -- of output each attaches again with a bulk one (Stream:outgrown, counted here), and
    -- must still be killed at once.
    local Stream = require "sbx.stream"
    local outgrown, attached = Stream.outgrown, 0
    Stream.outgrown = function(self)
      attached = attached + 1
      return outgrown(self)
    end
    local got, tasks = {}, {}
    local ok, err = pcall(function()
      for i = 1, 4 do
        got[i] = 0
        tasks[i] = sbx.go(function()
          return ctx.box.commands:run("head -c 1000000 /dev/zero; sleep 60.7103", {
            on_stdout = function(chunk) got[i] = got[i] + #chunk end,
          })
        end)
      end
      assert.is_true(helper.eventually(function()
        sbx.step(0.01)
        return got[1] + got[2] + got[3] + got[4] == 4000000
          and tonumber(helper.sh("pgrep -c -x -f 'sleep 60.7103' || true")) == 4
      end, 10), "the commands did not all send their output and reach their sleep")
    end)
    Stream.outgrown = outgrown
    for _, t in ipairs(tasks) do t:cancel() end
    assert(ok, err)
    for _, t in ipairs(tasks) do assert.are.equal("CancelledError", helper.error_of(t.wait, t).kind) end
    assert.is_true(attached >= 1, "no stream attached again")
    assert.is_true(gone_within("[s]leep 60.7103", 3), "a command outlived its cancel")
  end)

  it("kills the command at once when its stream closes before it took the start event", function()
    -- A run cancelled before its start event came knows no pid: closing its request kills
    -- the command by its start's key. Here the start event has come but is left untaken
    -- (Stream:close, not Stream:abandon, which would take it), as if it had not come.
    local Stream = require "sbx.stream"
    local s = Stream.start(ctx.box.commands, '{"cmd":"sleep 60.7104"}', {}, true)
    assert.is_true(running("[s]leep 60.7104"))
    helper.sleep(0.1) -- the start event went: sbxd alone would keep the command for a resume
    s:close()
    assert.is_true(gone_within("[s]leep 60.7104", 3), "the command outlived its stream")
  end)

  it("kills the command at once when a callback raises", function()
    local err = helper.error_of(ctx.box.commands.run, ctx.box.commands, "echo x; sleep 60.7102",
      { on_stdout = function() error({ mine = true }) end })
    assert.is_true(type(err) == "table" and err.mine, tostring(err))
    assert.is_true(gone_within("[s]leep 60.7102", 3), "the command outlived its callback's error")
  end)
end)

describe("a cut run whose command ends within --resume-grace", function()
  it("is kept, released, and sbxd still shuts down at SIGTERM", function()
    -- The cut is made on a raw socket (LuaSocket), which reads the start and goes: the
    -- sbx client would resume instead.
    local socket = require "socket"
    local server = helper.sbxd { args = { "--resume-grace", "0.3" } }
    local box = sbx.create { url = server.url, api_key = server.key }
    local host, port = server.url:match("^http://([%d.]+):(%d+)$")
    local c = assert(socket.tcp())
    c:settimeout(10)
    assert(c:connect(host, tonumber(port)))
    local body = '{"cmd":"sleep 0.1"}'
    c:send(("POST /sandboxes/%s/processes HTTP/1.1\r\nHost: sbxd\r\nAuthorization: Bearer %s\r\n"
      .. "Accept: text/event-stream\r\nContent-Length: %d\r\n\r\n%s"):format(box.id, server.key, #body, body))
    repeat local line = assert(c:receive("*l")) until line:match("^data:")
    c:close()
    -- The grace ends after the command did: its pipes are read, it is kept a grace more.
    helper.sleep(1)
    assert.are.equal("alive\n", box.commands:run("echo alive").stdout)
    box:close()
    os.execute("kill -TERM " .. server.pid)
    local exited = helper.eventually(function() return not helper.alive(server.pid) end, 5)
    server.stop()
    assert.is_true(exited, "sbxd did not exit at SIGTERM")
  end)
end)
