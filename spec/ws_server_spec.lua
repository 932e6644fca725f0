-- Interactive sessions over WebSocket (subprotocol sbx.v1), at the wire, against a real
-- sbxd (docs/PROTOCOL.md, "Interactive sessions (WebSocket)"). The client is spec/wsraw.lua,
-- a raw WebSocket client over LuaSocket: the specs send what a real client never would
-- (malformed messages, handshakes without a subprotocol or with a bad key), cut
-- connections where they like and leave pings unanswered.
local socket = require "socket"
local cjson = require "cjson"
local helper = require "helper"
local wsraw = require "wsraw"

local STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

local function path_of(box, pid, query)
  if not pid then return "/sandboxes/" .. box.id .. "/processes/ws" end
  return ("/sandboxes/%s/processes/%d/ws%s"):format(box.id, pid, query or "")
end

local function status_of(m)
  assert(m and m.channel == STATUS, "a status message expected, got " .. cjson.encode(m or {}))
  return cjson.decode(m.data)
end

--- A session started with `start` (the start body); returns it and its start status.
local function start(ctx, body)
  local s = assert(wsraw.open(ctx.server, path_of(ctx.box)))
  assert(s:send(STATUS, cjson.encode { start = body }))
  local st = status_of(s:recv())
  assert.are.equal("start", st.type)
  return s, st
end

--- Everything until the connection closes: stdout, stderr, the statuses after the start,
-- the close {code, reason}.
local function rest_of(s)
  local out, err, statuses = {}, {}, {}
  local function result(key, value)
    return { stdout = table.concat(out), stderr = table.concat(err), statuses = statuses, [key] = value }
  end
  while true do
    local m, e = s:recv()
    if not m then return result("lost", e) end
    if m.close then
      s:close()
      return result("close", m)
    end
    if m.channel == STDOUT then out[#out + 1] = m.data
    elseif m.channel == STDERR then err[#err + 1] = m.data
    else statuses[#statuses + 1] = status_of(m) end
  end
end

--- Reads stdout until it holds `pattern`; returns what was read.
local function stdout_until(s, pattern)
  local out = ""
  while not out:match(pattern) do
    local m = assert(s:recv())
    assert(m.channel == STDOUT, "stdout expected, got " .. cjson.encode(m))
    out = out .. m.data
  end
  return out
end

local function last(t) return t[#t] end

describe("interactive sessions (WebSocket)", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  it("run cat: stdin in, its close, stdout exact, end exit 0, close 1000", function()
    local s, st = start(ctx, { cmd = "cat" })
    assert.is_true(st.pid > 0 and st.serial > 0)
    assert.are.equal(0, st.from)
    assert.are.equal(15, st.keepalive)
    assert(s:send(STDIN, "a\0b"))
    assert(s:send(CLOSE, "\0"))
    local r = rest_of(s)
    assert.are.equal("a\0b", r.stdout)
    assert.are.equal("", r.stderr)
    assert.are.same({ type = "end", exit_code = 0, signal = cjson.null, error = cjson.null }, r.statuses[1])
    assert.are.equal(1, #r.statuses)
    assert.are.equal(1000, r.close.code)
  end)

  it("carry stdout and stderr apart, and the start body's stdin, env and cwd", function()
    local s = start(ctx, { cmd = "cat; echo \"$V\" >&2; pwd >&2", stdin = "aW4=", env = { V = "vee" },
      cwd = "/tmp" })
    assert(s:send(CLOSE, "\0"))
    local r = rest_of(s)
    assert.are.equal("in", r.stdout)
    assert.are.equal("vee\n/tmp\n", r.stderr)
    assert.are.equal(0, r.statuses[1].exit_code)
  end)

  it("take 8 MiB through cat in 64 KiB writes, exactly", function()
    local s = start(ctx, { cmd = "cat" })
    local chunks = {}
    for i = 1, 128 do chunks[i] = string.rep(string.char(i % 256), 65535) .. string.char(255 - i % 256) end
    local sent_all = table.concat(chunks)
    -- Writes and reads go on together: cat writes back what it reads, and sbxd stops
    -- taking stdin while cat's output waits for this reader.
    local out, next_chunk, pending, at = {}, 1, nil, 1
    local got, eof_sent = 0, false
    local deadline = socket.gettime() + 60
    while got < #sent_all do
      assert(socket.gettime() < deadline, "did not hang")
      local want_write = pending or next_chunk <= #chunks
      local r, w = socket.select({ s.sock }, want_write and { s.sock } or {}, 1)
      if r[1] then
        local m = assert(s:recv())
        assert.are.equal(STDOUT, m.channel)
        out[#out + 1] = m.data
        got = got + #m.data
      end
      if w[1] then
        if not pending then
          pending = wsraw.encode(wsraw.OP.binary, "\0" .. chunks[next_chunk])
          next_chunk, at = next_chunk + 1, 1
        end
        s.sock:settimeout(0)
        local last_byte, _, partial = s.sock:send(pending, at)
        s.sock:settimeout(10)
        at = (last_byte or partial) + 1
        if at > #pending then pending = nil end
      end
      if not eof_sent and next_chunk > #chunks and not pending then
        assert(s:send(CLOSE, "\0"))
        eof_sent = true
      end
    end
    local r = rest_of(s)
    assert.is_true(table.concat(out) == sent_all, "the 8 MiB came back exactly")
    assert.are.equal("", r.stdout)
    assert.are.equal(0, r.statuses[1].exit_code)
  end)

  local SIGNALS = { { "SIGINT", "SIGINT", 130 }, { "SIGTERM", "SIGTERM", 143 }, { 9, "SIGKILL", 137 } }
  for _, case in ipairs(SIGNALS) do
    it(("send %s to the process group: the end says so"):format(case[1]), function()
      local s = start(ctx, { cmd = "echo $$; sleep 100.3125" })
      stdout_until(s, "^%d+\n$")
      -- sh (dash) acts on a SIGINT only once its foreground command ends: the signal
      -- goes once sleep runs (sh and sleep match), so that sleep gets it too.
      assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 100.3125") == 2 end, 10))
      assert(s:send(STATUS, cjson.encode { signal = case[1] }))
      local r = rest_of(s)
      assert.are.equal(case[2], (r.statuses[1] or {}).signal, cjson.encode(r))
      assert.are.equal(case[3], r.statuses[1].exit_code)
      assert.are.equal(1000, r.close.code)
    end)
  end

  it("run on a pty of the sandbox's own: tty names /dev/pts/N, stty size the pty's", function()
    local s = start(ctx, { cmd = "tty; stty size", pty = { cols = 91, rows = 27 } })
    local r = rest_of(s)
    assert.matches("^/dev/pts/%d+\r\n27 91\r\n$", r.stdout)
    assert.are.equal("", r.stderr)
    assert.are.equal(0, r.statuses[1].exit_code)
  end)

  it("resize the pty: stty size says the new size", function()
    local s = start(ctx, { cmd = "stty size; read x; stty size", pty = { cols = 80, rows = 24 } })
    stdout_until(s, "24 80\r\n$")
    assert(s:send(RESIZE, cjson.encode { cols = 132, rows = 43 }))
    assert(s:send(STDIN, "\n"))
    local r = rest_of(s)
    assert.are.equal("\r\n43 132\r\n", r.stdout)
    assert.are.equal(0, r.statuses[1].exit_code)
  end)

  it("interrupt sleep 100 with ^C on a pty", function()
    local s = start(ctx, { cmd = "echo go; sleep 100.1875", pty = { cols = 80, rows = 24 } })
    stdout_until(s, "go\r\n$")
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 100.1875") == 2 end, 10))
    assert(s:send(STDIN, "\3"))
    local r = rest_of(s)
    assert.are.equal("SIGINT", (r.statuses[1] or {}).signal, cjson.encode(r))
  end)

  it("end a pty's input with close-channel 0: the terminal's EOF", function()
    local s = start(ctx, { cmd = "cat >/dev/null; echo done", pty = { cols = 80, rows = 24 } })
    assert(s:send(STDIN, "x\n"))
    assert(s:send(CLOSE, "\0"))
    local r = rest_of(s)
    assert.matches("done\r\n$", r.stdout)
    assert.are.equal(0, r.statuses[1].exit_code)
  end)

  it("attach by pid and serial from an offset: the output resumes exactly", function()
    local a, st = start(ctx, { cmd = "printf abc; read x; printf \"def$x\"" })
    assert.are.equal("abc", stdout_until(a, "abc"))
    a:close() -- cut: no close frame
    local query = ("?offset=1&serial=%d"):format(st.serial)
    local b, _, body = wsraw.open(ctx.server, path_of(ctx.box, st.pid, query))
    assert(b, body)
    local bst = status_of(b:recv())
    assert.are.same({ type = "start", pid = st.pid, serial = st.serial, from = 1, keepalive = 15 }, bst)
    assert.are.equal("bc", stdout_until(b, "bc"))
    assert(b:send(STDIN, "X\n"))
    local r = rest_of(b)
    assert.are.equal("defX", r.stdout)
    assert.are.equal(0, r.statuses[1].exit_code)
  end)

  it("count a writer's stdin: an attach of the same writer learns how much came in", function()
    local a = assert(wsraw.open(ctx.server, path_of(ctx.box) .. "?writer=w1"))
    assert(a:send(STATUS, cjson.encode { start = { cmd = "cat; sleep 1" } }))
    local st = status_of(a:recv())
    assert.are.equal(0, st.stdin)
    assert(a:send(STDIN, "abc"))
    assert(a:send(STDIN, "de"))
    assert.are.equal("abcde", stdout_until(a, "abcde"))
    a:close() -- cut: no close frame
    local function attach(query)
      local s, _, body = wsraw.open(ctx.server, path_of(ctx.box, st.pid, query))
      assert(s, body)
      return s, status_of(s:recv())
    end
    local b, bst = attach(("?offset=5&serial=%d&writer=w1"):format(st.serial))
    assert.are.equal(5, bst.stdin)
    -- another writer has a count of its own; a connection that names none gets none
    local c, cst = attach("?offset=5&writer=w2")
    assert.are.equal(0, cst.stdin)
    local d, dst = attach("?offset=5")
    assert.is_nil(dst.stdin)
    c:close()
    d:close()
    assert(b:send(CLOSE, string.char(STDIN))) -- the EOF counts 1
    assert(b:send(STATUS, cjson.encode { signal = "SIGCONT" })) -- (a round trip: the EOF is in)
    b:close()
    local e, est = attach("?offset=5&writer=w1")
    assert.are.equal(6, est.stdin)
    assert.are.equal(0, rest_of(e).statuses[1].exit_code)
  end)

  it("take a start sent again by the first one's writer: one process, read from its first byte", function()
    local cmd = "echo ran >> /tmp/ws-started; printf abc; sleep 0.3; printf def >&2"
    local a = assert(wsraw.open(ctx.server, path_of(ctx.box) .. "?writer=w9"))
    assert(a:send(STATUS, cjson.encode { start = { cmd = cmd } }))
    local first = status_of(a:recv())
    a:close() -- cut: the client learnt nothing it could use, it sends the start again
    local b = assert(wsraw.open(ctx.server, path_of(ctx.box) .. "?writer=w9"))
    assert(b:send(STATUS, cjson.encode { start = { cmd = cmd } }))
    local st = status_of(b:recv())
    assert.are.same({ "start", first.pid, first.serial, 0 }, { st.type, st.pid, st.serial, st.from })
    local r = rest_of(b)
    assert.are.same({ "abc", "def", 0, 1000 },
      { r.stdout, r.stderr, last(r.statuses).exit_code, r.close.code })
    assert.are.equal("ran\n", ctx.box.commands:run("cat /tmp/ws-started").stdout)
    -- another writer's start starts another process
    local c, cst = start(ctx, { cmd = cmd })
    assert.are_not.equal(first.pid, cst.pid)
    rest_of(c)
    assert.are.equal("ran\nran\n", ctx.box.commands:run("cat /tmp/ws-started").stdout)
  end)

  it("drop stdin that comes on a writer's older connection once a newer one has it", function()
    local a = assert(wsraw.open(ctx.server, path_of(ctx.box) .. "?writer=w"))
    assert(a:send(STATUS, cjson.encode { start = { cmd = "cat" } }))
    local st = status_of(a:recv())
    assert(a:send(STDIN, "one"))
    assert.are.equal("one", stdout_until(a, "one"))
    local b = assert(wsraw.open(ctx.server, path_of(ctx.box, st.pid, "?offset=3&writer=w")))
    assert.are.equal(3, status_of(b:recv()).stdin)
    -- a, not cut as far as sbxd knows, still sends: the client sends that on b again
    assert(a:send(STDIN, "lost"))
    socket.sleep(0.2)
    assert(b:send(STDIN, "two"))
    assert(b:send(CLOSE, string.char(STDIN)))
    local r = rest_of(b)
    assert.are.equal("two", r.stdout)
    assert.are.equal(0, r.statuses[1].exit_code)
    a:close()
  end)

  it("say how much of a writer's stdin came in as it comes, every 256 KiB", function()
    local s = assert(wsraw.open(ctx.server, path_of(ctx.box) .. "?writer=big"))
    assert(s:send(STATUS, cjson.encode { start = { cmd = "cat >/dev/null; echo done" } }))
    status_of(s:recv())
    local chunk = ("x"):rep(64 * 1024)
    for _ = 1, 9 do assert(s:send(STDIN, chunk)) end -- 576 KiB
    assert(s:send(CLOSE, string.char(STDIN)))
    local r = rest_of(s)
    assert.are.equal("done\n", r.stdout)
    local counts = {}
    for _, x in ipairs(r.statuses) do
      if x.type == "stdin" then counts[#counts + 1] = x.received end
    end
    -- each once 256 KiB more than the one before (or the start) said came in
    assert.is_true(#counts >= 1 and counts[1] >= 262144, cjson.encode(counts))
    for i = 2, #counts do assert.is_true(counts[i] - counts[i - 1] >= 262144, cjson.encode(counts)) end
    assert.is_true(counts[#counts] <= 9 * 65536, cjson.encode(counts))
    assert.are.equal("end", last(r.statuses).type)
  end)

  it("refuse a bad start with an error status, then close 1008", function()
    local bodies = {
      { { cmd = "" }, "'cmd'" },
      { { cmd = "true", background = true }, "'background'" },
      { { cmd = "true", idle_timeout = 5 }, "'idle_timeout'" },
      { { cmd = "true", pty = { cols = 0, rows = 24 } }, "cols" },
      { { cmd = "true", nope = 1 }, "unknown field 'nope'" },
      { { cmd = "true", cwd = "/no/such/dir" }, "no such directory" },
    }
    for _, case in ipairs(bodies) do
      local s = assert(wsraw.open(ctx.server, path_of(ctx.box)))
      assert(s:send(STATUS, cjson.encode { start = case[1] }))
      local r = rest_of(s)
      local st = r.statuses[1]
      assert.are.equal("error", st.type)
      assert.are.same({ "InvalidArgumentError", 400 }, { st.error.kind, st.error.status })
      assert.truthy(st.error.message:find(case[2], 1, true), st.error.message)
      assert.are.equal(1008, r.close.code)
    end
  end)

  it("refuse before the upgrade with a status and a JSON error", function()
    local cases = {
      { {}, "/sandboxes/sbx_nope/processes/ws", 404, "NotFoundError" },
      { {}, path_of(ctx.box, 4000000), 404, "NotFoundError" },
      { {}, path_of(ctx.box, 4000000, "?offset=x"), 400, "InvalidArgumentError" },
      { {}, path_of(ctx.box) .. "?offset=0", 400, "InvalidArgumentError" },
      { {}, path_of(ctx.box) .. "?writer=", 400, "InvalidArgumentError" },
      { {}, path_of(ctx.box) .. "?writer=a%20b", 400, "InvalidArgumentError" },
      { {}, path_of(ctx.box) .. "?writer=" .. ("w"):rep(33), 400, "InvalidArgumentError" },
      { {}, path_of(ctx.box) .. "?writer=a&writer=b", 400, "InvalidArgumentError" },
      { {}, "/sandboxes/" .. ctx.box.id .. "/processes", 404, "NotFoundError" },
      { { protocol = false }, path_of(ctx.box), 400, "InvalidArgumentError" },
      { { protocol = "chat, other" }, path_of(ctx.box), 400, "InvalidArgumentError" },
      { { protocol = "http, sbx.v1" }, path_of(ctx.box), 400, "InvalidArgumentError" },
      { { ws_key = "abc" }, path_of(ctx.box), 400, "InvalidArgumentError" },
      { { ws_key = false }, path_of(ctx.box), 400, "InvalidArgumentError" },
      { { version = "8" }, path_of(ctx.box), 400, "InvalidArgumentError" },
      { { key = "wrong" }, path_of(ctx.box), 401, "AuthenticationError" },
      { { key = false }, path_of(ctx.box), 401, "AuthenticationError" },
    }
    for _, case in ipairs(cases) do
      local s, status, body = wsraw.open(ctx.server, case[2], case[1])
      assert.is_nil(s, "upgraded: " .. case[2])
      assert.are.equal(case[3], status, case[2] .. " " .. cjson.encode(case[1]))
      assert.are.equal(case[4], cjson.decode(body).error.kind)
    end
    -- with the subprotocol among others, it is taken
    local s = assert(wsraw.open(ctx.server, path_of(ctx.box), { protocol = "chat, sbx.v1" }))
    assert.are.equal("sbx.v1", s.headers["sec-websocket-protocol"])
    s:close()
  end)

  it("start on a paused sandbox: it resumes first", function()
    ctx.box:pause()
    assert.are.equal("paused", ctx.box:info().state)
    local s = start(ctx, { cmd = "echo awake" })
    assert.are.equal("awake\n", rest_of(s).stdout)
    assert.are.equal("running", ctx.box:info().state)
  end)

  it("leave pty to sessions: POST .../processes refuses it with 400", function()
    local c = wsraw.connect(ctx.server)
    local body = cjson.encode { cmd = "tty", pty = { cols = 80, rows = 24 } }
    c:send(("POST /sandboxes/%s/processes HTTP/1.1\r\nHost: sbxd\r\nAuthorization: Bearer %s\r\n"
      .. "Content-Length: %d\r\n\r\n%s"):format(ctx.box.id, ctx.server.key, #body, body))
    assert.matches("^HTTP/1.1 400", assert(c:receive("*l")))
    c:close()
  end)

  it("answer a WebSocket route asked without an upgrade with 400", function()
    local c = wsraw.connect(ctx.server)
    c:send(("GET %s HTTP/1.1\r\nHost: sbxd\r\nAuthorization: Bearer %s\r\n\r\n")
      :format(path_of(ctx.box), ctx.server.key))
    local line = assert(c:receive("*l"))
    assert.matches("^HTTP/1.1 400", line)
    c:close()
  end)

  it("close a session that breaks the protocol with its code, and serve the others", function()
    local other = start(ctx, { cmd = "cat" })
    local function echo_works(text)
      assert(other:send(STDIN, text))
      assert.are.equal(text, stdout_until(other, text:gsub("%p", "%%%0")))
    end
    local cases = {
      { function(s) return s:send(7, "x") end, 1008, "unknown channel 7" },
      { function(s) return s:frame(wsraw.OP.binary, "") end, 1008, "empty message" },
      { function(s) return s:send(STATUS, "{nope") end, 1008, "malformed JSON" },
      { function(s) return s:send(STATUS, '{"frob": 1}') end, 1008, "unknown control message" },
      { function(s) return s:send(STATUS, '{"start": {"cmd": "true"}}') end, 1008, "a start on a session" },
      { function(s) return s:send(RESIZE, '{"cols": 80}') end, 1008, "bad resize" },
      { function(s) return s:send(CLOSE, "\0\0") end, 1008, "close-channel" },
      { function(s) return s:frame(wsraw.OP.text, "\0hello") end, 1003, "text message" },
      { function(s) return s:send(STDIN, string.rep("x", 1024 * 1024)) end, 1009, "over 1 MiB" },
      { function(s) return s:frame(wsraw.OP.binary, "\0" .. string.rep("y", 65536), true, 1 << 40) end, 1009,
        "over 1 MiB" },
    }
    for i, case in ipairs(cases) do
      local s = start(ctx, { cmd = "sleep 100" })
      case[1](s)
      local r = rest_of(s)
      assert.are.equal(case[2], r.close and r.close.code, "case " .. i)
      assert.truthy(r.close.reason:find(case[3], 1, true), r.close.reason)
      echo_works("still here " .. i .. "\n")
    end
    -- before its start, a start route takes only the start
    local s = assert(wsraw.open(ctx.server, path_of(ctx.box)))
    s:send(STDIN, "x")
    local r = rest_of(s)
    assert.are.equal(1008, r.close.code)
    assert.truthy(r.close.reason:find("the first message must be the start", 1, true))
    other:send(STATUS, cjson.encode { signal = "SIGKILL" })
    assert.are.equal("SIGKILL", rest_of(other).statuses[1].signal)
  end)

  it("take a message in fragments as one", function()
    local s = start(ctx, { cmd = "cat" })
    s:frame(wsraw.OP.binary, "\0ab", false)
    s:frame(wsraw.OP.continuation, "", false)
    s:frame(wsraw.OP.continuation, "cd", true)
    s:send(CLOSE, "\0")
    local r = rest_of(s)
    assert.are.equal("abcd", r.stdout)
  end)
end)

describe("a session's connection", function()
  local ctx = helper.sandbox_per_block(setup, teardown,
    { tcp = false, args = { "--resume-grace", "0.5", "--keepalive", "1" } })

  it("held back while its process reads no stdin, not cut, and nothing dropped", function()
    -- The command reads its stdin once /tmp/go exists (another session makes it).
    local s = start(ctx, { cmd = "while [ ! -e /tmp/go ]; do sleep 0.05; done; wc -c" })
    s.sock:settimeout(1)
    local frame = wsraw.encode(wsraw.OP.binary, "\0" .. string.rep("z", 65535))
    local frames, at = 0, nil
    repeat
      local last_byte, err, partial = s.sock:send(frame)
      frames = frames + 1
      if not last_byte then at = partial + 1 assert.are.equal("timeout", err) end
    until at
    assert.is_true(frames * 65535 < 4 * 1024 * 1024, frames .. " frames taken")
    -- Longer than 3 keepalives and 1 s: sbxd does not read, so it does not count the
    -- silence against the client.
    helper.sleep(5)
    local go = start(ctx, { cmd = "touch /tmp/go" })
    assert.are.equal(0, rest_of(go).statuses[1].exit_code)
    s.sock:settimeout(10)
    assert(s.sock:send(frame, at))
    assert(s:send(CLOSE, "\0"))
    local r = rest_of(s)
    assert.are.equal(tostring(frames * 65535) .. "\n", r.stdout)
    assert.are.equal(0, r.statuses[1].exit_code)
  end)

  it("cut without its end: the process is killed after --resume-grace", function()
    local s = start(ctx, { cmd = "exec sleep 100.4375" })
    assert.are.equal(1, #helper.pgrep("sleep 100.4375"))
    s:close()
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 100.4375") == 0 end, 10))
  end)

  it("closed for breaking the protocol: its process is a reader gone too", function()
    local s, st = start(ctx, { cmd = "exec sleep 100.5625" })
    s:send(9, "")
    assert.are.equal(1008, rest_of(s).close.code)
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 100.5625") == 0 end, 10))
    -- attached again, it tells how it ended
    local b = assert(wsraw.open(ctx.server, path_of(ctx.box, st.pid)))
    status_of(b:recv())
    local r = rest_of(b)
    assert.are.same({ type = "end", exit_code = 137, signal = "SIGKILL", error = "reader gone" },
      r.statuses[1])
  end)

  it("pinged every keepalive, closed when it answers none", function()
    local s = start(ctx, { cmd = "sleep 100" })
    s.deaf = true
    local t0 = socket.gettime()
    local r = rest_of(s)
    assert.is_true(s.pings >= 1, "pinged")
    assert.are.same({}, r.statuses) -- no end: the connection was dropped
    assert.is_true(socket.gettime() - t0 < 15, "closed within 3 keepalives and 1 s, give or take")
  end)

  it("pinged, and kept open while it answers", function()
    local s = start(ctx, { cmd = "sleep 6; echo late" })
    local r = rest_of(s)
    assert.is_true(s.pings >= 3, "pinged " .. tostring(s.pings))
    assert.are.equal("late\n", r.stdout)
    assert.are.equal(0, last(r.statuses).exit_code)
  end)
end)
