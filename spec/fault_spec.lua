-- Faults a real sbxd does not make: a malformed event or frame, a malformed end, a
-- response that is not an event stream, a stream cut right after its head or inside an
-- event. They come from a fake
-- server written here (luv, in this process) for fault injection only; every other spec
-- talks to a real sbxd.
local uv = require "luv_once"
local sbx = require "sbx"

local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
  .. "Transfer-Encoding: chunked\r\n\r\n"

local function chunk(s) return ("%x\r\n%s\r\n"):format(#s, s) end

local START = chunk('event: start\ndata: {"pid":4242}\n\n')
local GOOD_END = chunk('event: end\ndata: {"exit_code":0,"signal":null,"error":null}\n\n') .. "0\r\n\r\n"

local INFO = '{"id":"sbx_fake","state":"running","metadata":{},"started_at":1,"expires_at":2}'
local INFO_RESPONSE = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s")
  :format(#INFO, INFO)

-- Answers GET /sandboxes/ID and POST .../resume (what a connect sends) with an info
-- document and POST .../processes with `stream`
-- (raw bytes), then closes the connection when `close` is set. Every handle it opens is
-- in `handles`, to be closed at the end: luv's loop is shared with other specs.
local function fake_sbxd(stream, close, handles, info_response)
  local server = uv.new_tcp()
  handles[#handles + 1] = server
  assert(server:bind("127.0.0.1", 0))
  assert(server:listen(8, function()
    local conn = uv.new_tcp()
    handles[#handles + 1] = conn
    server:accept(conn)
    local got = ""
    conn:read_start(function(_, data)
      if not data then return conn:is_closing() or conn:close() end
      got = got .. data
      local head_end = got:find("\r\n\r\n", 1, true)
      if not head_end then return end
      local len = tonumber(got:match("[Cc]ontent%-[Ll]ength: *(%d+)")) or 0
      if #got < head_end + 3 + len then return end
      local request_line = got:match("^[^\r]*")
      got = got:sub(head_end + 4 + len)
      if request_line:match("^GET") or request_line:match("/resume ") then
        conn:write(info_response or INFO_RESPONSE)
      else
        conn:write(stream, function() if close and not conn:is_closing() then conn:close() end end)
      end
    end)
  end))
  return server, "http://127.0.0.1:" .. server:getsockname().port
end

-- Runs `fn` in a task while driving both loops: sbx's and the fake server's.
local function with_fake(stream, close, fn, info_response)
  local handles = {}
  local _, url = fake_sbxd(stream, close, handles, info_response)
  local task = sbx.go(function()
    local box = sbx.connect("sbx_fake", { url = url, api_key = "k", request_timeout = 5 })
    return fn(box)
  end)
  local deadline = sbx.now() + 10
  while task:status() == "running" and sbx.now() < deadline do
    sbx.step(0.001)
    uv.run("nowait")
  end
  for _, h in ipairs(handles) do
    if not h:is_closing() then h:close() end
  end
  uv.run("nowait")
  assert.are_not.equal("running", task:status(), "the call hung")
  return pcall(task.wait, task)
end

describe("run against a faulty server", function()
  it("works against the fake server when nothing is wrong (the harness itself)", function()
    local ok, r = with_fake(HEAD .. START .. chunk("event: stdout\nid: 3\ndata: aGkK\n\n") .. GOOD_END,
      false, function(box) return box.commands:run("x") end)
    assert.is_true(ok, tostring(r))
    assert.are.equal("hi\n", r.stdout)
    assert.are.equal(0, r.exit_code)
    assert.are.equal(4242, r.pid)
  end)

  it("returns the whole result when the stream's last chunk never comes", function()
    -- The end event arrives, the terminating chunk does not, the connection stays open:
    -- run returns (dropping that connection) instead of waiting for ever, and the next
    -- run on the same box works on a new one.
    local stream = HEAD .. START .. chunk("event: stdout\nid: 3\ndata: aGkK\n\n")
      .. chunk('event: end\ndata: {"exit_code":7,"signal":null,"error":null}\n\n')
    local ok, r1, r2 = with_fake(stream, false, function(box)
      return box.commands:run("x"), box.commands:run("y")
    end)
    assert.is_true(ok, tostring(r1))
    for _, r in ipairs { r1, r2 } do
      assert.are.equal("hi\n", r.stdout)
      assert.are.equal(7, r.exit_code)
    end
  end)

  it("decodes an output event's base64 however the stream splits it", function()
    -- Each HTTP chunk reaches the parser as a piece of its own: a split inside a group of
    -- four base64 characters is carried over to the next piece. An event whose type
    -- comes after its data is decoded whole, at its end.
    local events = {
      { "event: stdout\nid: 3\ndata: aG", "kKaGkK\n\n" },
      { "event: stdout\nid: 3\ndata: a", "G", "kKa", "GkK", "\n\n" },
      { "event: stdout\nid: 3\nda", "ta: aGkKaGkK\n", "\n" },
      { "id: 3\ndata: aGkKaGkK\nevent: stdout\n\n" },
    }
    for _, pieces in ipairs(events) do
      local stream = HEAD .. START
      for _, piece in ipairs(pieces) do stream = stream .. chunk(piece) end
      for _, callbacks in ipairs { false, true } do
        local seen = {}
        local opts = callbacks and { on_stdout = function(c) seen[#seen + 1] = c end } or nil
        local ok, r = with_fake(stream .. GOOD_END, false, function(box)
          return box.commands:run("x", opts)
        end)
        local what = table.concat(pieces, "|")
        assert.is_true(ok, tostring(r))
        assert.are.equal("hi\nhi\n", r.stdout, what)
        if callbacks then assert.are.same({ "hi\nhi\n" }, seen, what) end
      end
    end
  end)

  it("raises SandboxError for an output event that is not base64", function()
    -- Whole or split, wherever the fault lies: a bad character, padding before the end,
    -- a group cut short, a second data line. (A type changed after the data began is
    -- the next spec.)
    local events = {
      { "event: stdout\nid: 3\ndata: !!not base64!!\n\n" },
      { "event: stdout\nid: 3\ndata: aGkK!", "aGkK\n\n" },
      { "event: stdout\nid: 3\ndata: QQ==QUJD\n\n" },
      { "event: stdout\nid: 3\ndata: QQ=", "=QUJD\n\n" },
      { "event: stdout\nid: 3\ndata: QQ==", "QUJD\n\n" },
      { "event: stdout\nid: 3\ndata: aGkKa\n\n" },
      { "event: stdout\nid: 3\ndata: aGkKa", "G\n\n" },
      { "event: stdout\nid: 3\ndata: aGkK\ndata: aGkK\n\n" },
    }
    for _, pieces in ipairs(events) do
      local stream = HEAD .. START
      for _, piece in ipairs(pieces) do stream = stream .. chunk(piece) end
      local ok, err = with_fake(stream .. GOOD_END, false, function(box) return box.commands:run("x") end)
      local what = table.concat(pieces, "|")
      assert.is_false(ok, what)
      assert.are.equal("SandboxError", err.kind, what)
      assert.matches("base64", err.message, what)
    end
  end)

  it("raises SandboxError for an output event whose type changes after its data", function()
    -- Its bytes were decoded as stdout as they came: an event that then says it is
    -- stderr breaks the protocol (docs/PROTOCOL.md: the type comes first).
    local stream = HEAD .. START .. chunk("event: stdout\nid: 3\ndata: aGkK\nevent: stderr\n\n")
    local ok, err = with_fake(stream .. GOOD_END, false, function(box) return box.commands:run("x") end)
    assert.is_false(ok)
    assert.are.equal("SandboxError", err.kind)
    assert.matches("malformed", err.message)
  end)

  it("raises SandboxError for an end event that is not a JSON object with an exit code", function()
    for _, data in ipairs { "{not json", "[1,2]", '{"exit_code":"zero"}' } do
      local ok, err = with_fake(HEAD .. START .. chunk("event: end\ndata: " .. data .. "\n\n")
        .. "0\r\n\r\n", false, function(box) return box.commands:run("x") end)
      assert.is_false(ok, data)
      assert.are.equal("SandboxError", err.kind, data)
      assert.matches("end event", err.message)
    end
  end)

  it("raises SandboxError when the answer is not an event stream", function()
    local body = '{"hello":"world"}'
    local ok, err = with_fake(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
      .. "Content-Length: %d\r\n\r\n%s"):format(#body, body), false,
      function(box) return box.commands:run("x") end)
    assert.is_false(ok)
    assert.are.equal("SandboxError", err.kind)
  end)

  it("raises SandboxError, never hangs, when the stream is cut right after its head", function()
    local ok, err = with_fake(HEAD .. START, true, function(box) return box.commands:run("x") end)
    assert.is_false(ok)
    assert.are.equal("SandboxError", err.kind)
  end)
end)

describe("sandbox calls against a faulty server", function()
  local function answer(status, ctype, body)
    return ("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s")
      :format(status, ctype, #body, body)
  end

  local function connect_error(response)
    local ok, err = with_fake("", false, function() end, response)
    assert.is_false(ok)
    return err
  end

  it("raise SandboxError for a body that is not JSON", function()
    local err = connect_error(answer("200 OK", "application/json", "<html>hello</html>"))
    assert.are.equal("SandboxError", err.kind)
    assert.matches("not JSON", err.message)
  end)

  it("raise the kind of the status when the error body is not JSON", function()
    local err = connect_error(answer("500 Internal Server Error", "text/plain", "oops"))
    assert.are.equal("SandboxError", err.kind)
    assert.are.equal(500, err.status)
    assert.matches("oops", err.message)
    err = connect_error(answer("401 Unauthorized", "text/plain", "no"))
    assert.are.equal("AuthenticationError", err.kind)
  end)
end)

describe("the core's collected output", function()
  -- sbxd sends whole events; this server stops in the middle of one's base64 and goes on
  -- when the spec says, which only a server of its own can do.
  local core = require "sbx.core"

  local function serve_in_two_parts(first)
    local handles, conn = {}, nil
    local server = uv.new_tcp()
    handles[1] = server
    assert(server:bind("127.0.0.1", 0))
    assert(server:listen(8, function()
      conn = uv.new_tcp()
      handles[#handles + 1] = conn
      server:accept(conn)
      conn:read_start(function(_, data)
        if data and data:find("\r\n\r\n", 1, true) then conn:write(first) end
      end)
    end))
    local function close_all()
      for _, h in ipairs(handles) do
        if not h:is_closing() then h:close() end
      end
      uv.run("nowait")
    end
    return "http://127.0.0.1:" .. server:getsockname().port, function(s) conn:write(s) end, close_all
  end

  -- Steps both loops until the op has queued events, and returns their data joined.
  local function take_events(op)
    local deadline = core.now() + 5
    while core.now() < deadline do
      core.step(0.001)
      uv.run("nowait")
      local evs = op:poll()
      if #evs > 0 then
        local data = {}
        for _, ev in ipairs(evs) do data[#data + 1] = ev.data or ev.type end
        return table.concat(data, "|")
      end
    end
    error("no event came")
  end

  it("hands over the output taken in the middle of an event, and the event stays whole", function()
    -- "hello" is decoded and taken; the next event's first three base64 characters came
    -- before that, and decode to nothing yet: the event must still be "world".
    local url, send, close_all = serve_in_two_parts(HEAD .. START
      .. chunk("event: stdout\ndata: aGVsbG8=\n\n") .. chunk("event: stdout\ndata: d29"))
    local op = core.request { method = "POST", url = url .. "/x", body = "{}", sse = true,
      collect = true, chunks = true }
    assert.are.equal("head|" .. '{"pid":4242}' .. "|hello", take_events(op))
    assert.are.equal("hello", op:output("stdout"))
    send(chunk("ybGQ=\n\n"))
    assert.are.equal("world", take_events(op))
    assert.are.equal("world", op:output("stdout"))
    op:close()
    close_all()
  end)

  -- Steps both loops until the op's transfer is over; returns its events.
  local function until_done(op)
    local evs, deadline = {}, core.now() + 5
    while not op:done() and core.now() < deadline do
      core.step(0.001)
      uv.run("nowait")
    end
    assert.is_true(op:done(), "the transfer ended")
    for _, ev in ipairs(op:poll()) do evs[#evs + 1] = ev end
    return evs
  end

  local FRAMES_HEAD = HEAD:gsub("text/event%-stream", "application/vnd.sbx.frames")
  local function frame(type, payload) return string.pack(">I1>I4", type, #payload) .. payload end
  local function out_frame(channel, offset, bytes)
    return frame(channel == "stdout" and 1 or 2, string.pack(">I8", offset) .. bytes)
  end

  -- The same stream, SSE or frames: "abc" (stdout, id 3), "EE" (stderr, id 5), then
  -- "defg" (stdout, id 9) cut after its first bytes by the server's close.
  local CUT = {
    sse = HEAD .. START .. chunk("event: stdout\nid: 3\ndata: YWJj\n\n")
      .. chunk("event: stderr\nid: 5\ndata: RUU=\n\n") .. chunk("event: stdout\nid: 9\ndata: ZGVm"),
    frames = FRAMES_HEAD .. chunk(frame(3, '{"pid":4242}') .. out_frame("stdout", 3, "abc")
      .. out_frame("stderr", 5, "EE") .. out_frame("stdout", 9, "defg"):sub(1, -2)),
  }

  for _, kind in ipairs { "sse", "frames" } do
    it("holds only complete events' bytes after a cut in the middle of one (" .. kind .. ")", function()
      -- collected bytes + a resume from op:offset() must be exact: the cut SSE event's
      -- first bytes are not output, and the offset is the last complete event's id; a cut
      -- frame's bytes that came are output (a frame's bytes are consecutive: their offset
      -- is known), with the offset where they stop.
      local url, _, close_all = serve_in_two_parts(CUT[kind])
      local op = core.request { method = "POST", url = url .. "/x", body = "{}", sse = true,
        collect = true, chunks = false }
      local deadline = core.now() + 5
      while op:offset() ~= 5 and core.now() < deadline do
        core.step(0.001)
        uv.run("nowait")
      end
      close_all() -- the cut
      local evs = until_done(op)
      assert.are.equal("error", evs[#evs].type)
      local whole = kind == "frames" and 8 or 5
      assert.are.equal(whole, op:offset())
      assert.are.equal(kind == "frames" and "abcdef" or "abc", op:output("stdout"))
      assert.are.equal("EE", op:output("stderr"))
      op:close()
    end)
  end

  it("reads a frames stream as events, like SSE", function()
    local stream = FRAMES_HEAD .. chunk(frame(3, '{"pid":4242}') .. frame(5, "")
      .. out_frame("stdout", 3, "hi\n") .. out_frame("stderr", 5, "e\0"))
      .. chunk(out_frame("stdout", 6, "!") .. frame(4, '{"exit_code":0,"signal":null,"error":null}'))
      .. "0\r\n\r\n"
    for _, callbacks in ipairs { false, true } do
      local seen = {}
      local opts = callbacks and { on_stdout = function(c) seen[#seen + 1] = c end } or nil
      local ok, r = with_fake(stream, false, function(box) return box.commands:run("x", opts) end)
      assert.is_true(ok, tostring(r))
      assert.are.equal("hi\n!", r.stdout)
      assert.are.equal("e\0", r.stderr)
      assert.are.equal(0, r.exit_code)
      assert.are.equal(4242, r.pid)
      if callbacks then assert.are.same({ "hi\n", "!" }, seen) end
    end
  end)

  it("raises SandboxError for a malformed frames stream", function()
    local malformed = {
      ["an unknown type"] = frame(6, ""),
      ["an output frame under 8 bytes"] = frame(1, "1234567"),
      ["a length over 1 MiB + 8"] = string.pack(">I1>I4", 1, 1024 * 1024 + 9),
    }
    for what, bad in pairs(malformed) do
      local ok, err = with_fake(FRAMES_HEAD .. chunk(frame(3, '{"pid":4242}') .. bad), false,
        function(box) return box.commands:run("x") end)
      assert.is_false(ok, what)
      assert.are.equal("SandboxError", err.kind, what)
      assert.matches("frames stream is malformed", err.message, 1, true)
    end
  end)
end)
