-- A background command's stdin: POST and DELETE /sandboxes/{id}/processes/{pid}/stdin.
-- The client has no background API yet: starts and stdin calls go over raw sockets
-- (LuaSocket, blocking with a timeout), and the output is read from the start's stream.
-- Closing a connection while its write waits is a fault the client cannot make.
local socket = require "socket"
local cjson = require "cjson"
local sbx = require "sbx"
local helper = require "helper"
local rawhttp = require "rawhttp"
local connect = rawhttp.connect
local function read_head(c) return assert(rawhttp.read_head(c)) end

local KiB, MiB = 1024, 1024 * 1024

local function send_request(c, server, method, path, body, headers)
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: sbxd",
    "Authorization: Bearer " .. server.key, "Content-Length: " .. #(body or "") }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
  assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")))
end

-- A JSON answer: its status and document.
local function read_json(c)
  local status, headers = read_head(c)
  local n = tonumber(headers["content-length"] or 0)
  return status, cjson.decode(n > 0 and assert(c:receive(n)) or "null")
end

local function call(server, method, path, body)
  local c = connect(server)
  send_request(c, server, method, path, body)
  local status, doc = read_json(c)
  c:close()
  return status, doc
end

local function stdin_path(box_id, pid)
  return ("/sandboxes/%s/processes/%d/stdin"):format(box_id, pid)
end

-- A start's stream, read as it comes: its events are parsed from whatever has arrived.
local Stream = {}
Stream.__index = Stream

-- Starts `cmd` (background unless opts.foreground; opts.stdin: its first bytes) and reads
-- up to its start event.
local function start(server, box_id, cmd, opts)
  opts = opts or {}
  local c = connect(server)
  local body = { cmd = cmd, background = not opts.foreground, stdin_open = opts.stdin_open }
  if opts.stdin then body.stdin = require("sbx.core").b64encode(opts.stdin) end
  send_request(c, server, "POST", "/sandboxes/" .. box_id .. "/processes", cjson.encode(body),
    { "Accept: text/event-stream", "Content-Type: application/json" })
  local status, headers = read_head(c)
  assert(status == 200 and headers["transfer-encoding"] == "chunked", "no stream: " .. status)
  local s = setmetatable({ sock = c, buf = "", out = {}, ended = nil }, Stream)
  while not s.pid do s:pump(10) end
  return s
end

-- Takes each whole chunk (one event each) from the buffer.
function Stream:parse()
  while true do
    local size_line, rest = self.buf:match("^(%x+)\r\n()")
    if not size_line then return end
    local size = tonumber(size_line, 16)
    if #self.buf < rest + size + 1 then return end
    local event = self.buf:sub(rest, rest + size - 1)
    self.buf = self.buf:sub(rest + size + 2)
    local kind, data = event:match("^event: (%a+)\n.-data: ([^\n]*)\n\n$")
    if kind == "start" then self.pid = cjson.decode(data).pid
    elseif kind == "stdout" then self.out[#self.out + 1] = assert(helper.b64decode(data))
    elseif kind == "end" then self.ended = cjson.decode(data)
    end
  end
end

-- Reads what has come within `timeout` seconds.
function Stream:pump(timeout)
  local ready = socket.select({ self.sock }, nil, timeout)
  if #ready == 0 then return end
  self.sock:settimeout(0)
  local data, err, partial = self.sock:receive(256 * KiB)
  self.sock:settimeout(10)
  assert(data or err == "timeout", "the stream was cut: " .. tostring(err))
  self.buf = self.buf .. (data or partial)
  self:parse()
end

function Stream:output() return table.concat(self.out) end

-- Reads the stream to its end event.
function Stream:finish()
  local deadline = socket.gettime() + 30
  while not self.ended and socket.gettime() < deadline do self:pump(1) end
  self.sock:close()
  return assert(self.ended, "no end event")
end

-- Waits for the answer on connection `c` while reading the stream; nil when none came
-- within `timeout`.
local function answer_of(c, stream, timeout)
  local deadline = socket.gettime() + (timeout or 30)
  while socket.gettime() < deadline do
    local ready = socket.select({ c, stream and stream.sock or nil }, nil, 0.2)
    for _, s in ipairs(ready) do
      if s == c then return read_json(c) end
      stream:pump(0)
    end
  end
  return nil
end

-- Sends a stdin write on its own connection; returns the connection.
local function post_stdin(server, box_id, pid, bytes)
  local c = connect(server)
  send_request(c, server, "POST", stdin_path(box_id, pid), bytes,
    { "Content-Type: application/octet-stream" })
  return c
end

local function kill(server, box_id, pid)
  assert.are.equal(200, (call(server, "POST", ("/sandboxes/%s/processes/%d/signal"):format(box_id, pid), "")))
end

local function write_stdin(server, box_id, stream, bytes)
  local c = post_stdin(server, box_id, stream.pid, bytes)
  local status, doc = answer_of(c, stream)
  c:close()
  return status, doc
end

describe("stdin of a background process", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  it("carries raw bytes, NUL included, and the close is its EOF", function()
    local s = start(ctx.server, ctx.box.id, "cat")
    local status, doc = write_stdin(ctx.server, ctx.box.id, s, "a\0b")
    assert.are.same({ 200, { written = 3 } }, { status, doc })
    status, doc = call(ctx.server, "DELETE", stdin_path(ctx.box.id, s.pid))
    assert.are.same({ 200, { closed = true } }, { status, doc })
    assert.are.equal(0, s:finish().exit_code)
    assert.are.equal("a\0b", s:output())
  end)

  it("feeds a shell's read", function()
    local s = start(ctx.server, ctx.box.id, [[sh -c 'read x; echo "$x"']])
    assert.are.same({ 200, { written = 6 } }, { write_stdin(ctx.server, ctx.box.id, s, "hello\n") })
    assert.are.equal(0, s:finish().exit_code)
    assert.are.equal("hello\n", s:output())
  end)

  it("has the start's stdin bytes first, then the writes, and takes an empty write", function()
    local s = start(ctx.server, ctx.box.id, "cat", { stdin = "first-", stdin_open = true })
    assert.are.same({ 200, { written = 0 } }, { write_stdin(ctx.server, ctx.box.id, s, "") })
    assert.are.same({ 200, { written = 6 } }, { write_stdin(ctx.server, ctx.box.id, s, "second") })
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", stdin_path(ctx.box.id, s.pid)) })
    s:finish()
    assert.are.equal("first-second", s:output())
  end)

  it("closes after the start's stdin bytes unless stdin_open is given", function()
    -- the command lives on past its stdin's end until the write was answered (else the
    -- write may come after its exit, and be refused for that)
    local go = ("/tmp/stdin-go-%d"):format(math.random(1, 1e9))
    local cmd = ("cat; echo done; while [ ! -e %s ]; do sleep 0.01; done"):format(go)
    local s = start(ctx.server, ctx.box.id, cmd, { stdin = "only" })
    local status, doc = write_stdin(ctx.server, ctx.box.id, s, "more")
    assert.are.same({ 409, "ConflictError" }, { status, doc.error and doc.error.kind })
    assert.matches("without stdin bytes", doc.error.message, 1, true)
    start(ctx.server, ctx.box.id, "touch " .. go, { foreground = true }):finish()
    assert.are.equal(0, s:finish().exit_code)
    assert.are.equal("onlydone\n", s:output())
    local empty = start(ctx.server, ctx.box.id, "cat; echo done", { stdin = "" })
    empty:finish()
    assert.are.equal("done\n", empty:output())
  end)

  it("carries 8 MiB through cat in 64 KiB writes, exactly, waiting while the pipe is full", function()
    local data = helper.random_bytes(8 * MiB)
    local s = start(ctx.server, ctx.box.id, "cat")
    for i = 1, #data, 64 * KiB do
      local status, doc = write_stdin(ctx.server, ctx.box.id, s, data:sub(i, i + 64 * KiB - 1))
      assert.are.same({ 200, { written = 64 * KiB } }, { status, doc })
    end
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", stdin_path(ctx.box.id, s.pid)) })
    assert.are.equal(0, s:finish().exit_code)
    local out = s:output()
    assert.are.equal(#data, #out)
    assert.is_true(out == data, "the output differs from the input")
  end)

  it("answers a close after the writes before it", function()
    local s = start(ctx.server, ctx.box.id, "sleep 0.5; cat")
    local data = ("x"):rep(200 * KiB) -- more than the pipe holds: the write waits for cat
    local w = post_stdin(ctx.server, ctx.box.id, s.pid, data)
    helper.sleep(0.1)
    local d = connect(ctx.server)
    send_request(d, ctx.server, "DELETE", stdin_path(ctx.box.id, s.pid))
    assert.are.same({ 200, { written = #data } }, { answer_of(w, s) })
    assert.are.same({ 200, { closed = true } }, { answer_of(d, s) })
    w:close()
    d:close()
    assert.are.equal(0, s:finish().exit_code)
    assert.are.equal(data, s:output())
  end)

  it("answers a waiting write 409 once its process is killed", function()
    local s = start(ctx.server, ctx.box.id, "sleep 100")
    local w = post_stdin(ctx.server, ctx.box.id, s.pid, ("y"):rep(MiB)) -- past the pipe's capacity
    assert.is_nil(answer_of(w, s, 0.5), "the write was answered though nothing reads it")
    kill(ctx.server, ctx.box.id, s.pid)
    local st, doc = answer_of(w, s)
    w:close()
    assert.are.equal(409, st)
    assert.are.equal("ConflictError", doc.error.kind)
    assert.are.equal("SIGKILL", s:finish().signal)
  end)

  it("refuses with 429 past 16 MiB waiting, and the refused bytes are not written", function()
    local s = start(ctx.server, ctx.box.id, "sleep 100")
    local w = post_stdin(ctx.server, ctx.box.id, s.pid, ("z"):rep(12 * MiB))
    assert.is_nil(answer_of(w, s, 0.3))
    local status, doc = write_stdin(ctx.server, ctx.box.id, s, ("z"):rep(5 * MiB))
    assert.are.equal(429, status)
    assert.are.equal("SandboxError", doc.error.kind)
    -- a refused write's key is not noted: sent again, it is refused again, not taken
    local keyed = stdin_path(ctx.box.id, s.pid) .. "?writer=r"
    assert.are.equal(429, (call(ctx.server, "POST", keyed, ("z"):rep(5 * MiB))))
    assert.are.equal(429, (call(ctx.server, "POST", keyed, ("z"):rep(5 * MiB))))
    kill(ctx.server, ctx.box.id, s.pid)
    assert.are.equal(409, (answer_of(w, s)))
    w:close()
    s:finish()
  end)

  it("answers the stdin routes' errors in JSON", function()
    local box = ctx.box.id
    local s = start(ctx.server, box, "cat; sleep 100") -- runs on once its stdin is closed
    local other = sbx.create(ctx.opts)
    local function kind(status, doc) return { status, doc.error and doc.error.kind } end
    local function post(path) return kind(call(ctx.server, "POST", path, "x")) end
    -- a pid of another sandbox is unknown here
    assert.are.same({ 404, "NotFoundError" }, post(stdin_path(other.id, s.pid)))
    assert.are.same({ 404, "NotFoundError" }, kind(call(ctx.server, "POST", stdin_path(box, 4000000), "x")))
    assert.are.same({ 404, "NotFoundError" }, post(stdin_path("sbx_nope", s.pid)))
    assert.are.same({ 404, "NotFoundError" },
      kind(call(ctx.server, "POST", ("/sandboxes/%s/processes/%d/nope"):format(box, s.pid), "x")))
    assert.are.same({ 405, "InvalidArgumentError" }, kind(call(ctx.server, "GET", stdin_path(box, s.pid))))
    -- closed: a write is 409, a second close says it was closed already
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", stdin_path(box, s.pid)) })
    assert.are.same({ 200, { closed = false } }, { call(ctx.server, "DELETE", stdin_path(box, s.pid)) })
    assert.are.same({ 409, "ConflictError" }, kind(call(ctx.server, "POST", stdin_path(box, s.pid), "x")))
    kill(ctx.server, box, s.pid)
    s:finish()
    -- a foreground command's stdin is not open
    local fg = start(ctx.server, box, "sleep 100", { foreground = true })
    assert.are.same({ 409, "ConflictError" }, kind(call(ctx.server, "POST", stdin_path(box, fg.pid), "x")))
    assert.are.same({ 409, "ConflictError" }, kind(call(ctx.server, "DELETE", stdin_path(box, fg.pid))))
    fg.sock:close()
    other:close()
  end)

  it("of a foreground command started with stdin_open is open, then EOF at its close", function()
    local s = start(ctx.server, ctx.box.id, "cat; echo done",
      { foreground = true, stdin_open = true, stdin = "a" })
    assert.are.same({ 200, { written = 2 } }, { write_stdin(ctx.server, ctx.box.id, s, "b\0") })
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", stdin_path(ctx.box.id, s.pid)) })
    assert.are.equal(0, s:finish().exit_code)
    assert.are.equal("ab\0done\n", s:output())
    local bad = cjson.encode { cmd = "true", stdin_open = "yes" }
    local st, doc = call(ctx.server, "POST", "/sandboxes/" .. ctx.box.id .. "/processes", bad)
    assert.are.same({ 400, "InvalidArgumentError" }, { st, doc.error.kind })
    assert.matches("stdin_open", doc.error.message, 1, true)
  end)

  it("takes a body that begins like a request line", function()
    local s = start(ctx.server, ctx.box.id, "cat")
    assert.are.same({ 200, { written = 11 } }, { write_stdin(ctx.server, ctx.box.id, s, "POST /x\r\n\r\n") })
    assert.are.same({ 200, { written = 4 } }, { write_stdin(ctx.server, ctx.box.id, s, "GET ") })
    call(ctx.server, "DELETE", stdin_path(ctx.box.id, s.pid))
    s:finish()
    assert.are.equal("POST /x\r\n\r\nGET ", s:output())
  end)
end)

describe("a stdin call with a key (?writer=), sent again after a cut", function()
  local ctx = helper.sandbox_per_block(setup, teardown)
  local function keyed(pid, key) return stdin_path(ctx.box.id, pid) .. "?writer=" .. key end

  it("is taken once: a write sent again writes nothing more, a close sent again says closed", function()
    local s = start(ctx.server, ctx.box.id, "cat; sleep 100") -- runs on once its stdin is closed
    assert.are.same({ 200, { written = 3 } }, { call(ctx.server, "POST", keyed(s.pid, "k1"), "abc") })
    assert.are.same({ 200, { written = 3 } }, { call(ctx.server, "POST", keyed(s.pid, "k1"), "abc") })
    assert.are.same({ 200, { written = 2 } }, { call(ctx.server, "POST", keyed(s.pid, "k2"), "de") })
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", keyed(s.pid, "c1")) })
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", keyed(s.pid, "c1")) })
    -- another close (another key) finds it closed; another write is refused
    assert.are.same({ 200, { closed = false } }, { call(ctx.server, "DELETE", keyed(s.pid, "c2")) })
    assert.are.equal(409, (call(ctx.server, "POST", keyed(s.pid, "k3"), "x")))
    local deadline = socket.gettime() + 10
    while #s:output() < 5 and socket.gettime() < deadline do s:pump(0.1) end
    assert.are.equal("abcde", s:output())
    kill(ctx.server, ctx.box.id, s.pid)
    assert.are.equal("SIGKILL", s:finish().signal)
    -- once the process exited, its close sent again still says closed; a write is 409
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", keyed(s.pid, "c1")) })
    assert.are.equal(409, (call(ctx.server, "POST", keyed(s.pid, "k1"), "abc")))
    assert.are.equal(409, (call(ctx.server, "DELETE", keyed(s.pid, "c2"))))
  end)

  it("answers a write sent again once the first sending's bytes are in the pipe", function()
    local s = start(ctx.server, ctx.box.id, "sleep 0.6; cat")
    local data = ("w"):rep(MiB) -- past the pipe's capacity: the write waits for cat
    local first = connect(ctx.server)
    send_request(first, ctx.server, "POST", keyed(s.pid, "big"), data)
    helper.sleep(0.1)
    first:close() -- the cut: its answer is lost, its bytes are sbxd's
    local again = connect(ctx.server)
    send_request(again, ctx.server, "POST", keyed(s.pid, "big"), data)
    assert.is_nil(answer_of(again, s, 0.2), "answered before cat read the first sending's bytes")
    assert.are.same({ 200, { written = MiB } }, { answer_of(again, s) })
    again:close()
    assert.are.same({ 200, { closed = true } }, { call(ctx.server, "DELETE", keyed(s.pid, "end")) })
    s:finish()
    assert.are.equal(MiB, #s:output())
    assert.is_true(s:output() == data, "the output is not the bytes once")
  end)

  it("refuses a bad key and any other query parameter (400)", function()
    local s = start(ctx.server, ctx.box.id, "cat")
    local path = stdin_path(ctx.box.id, s.pid)
    for _, q in ipairs { "?writer=", "?writer=a%21", "?writer=" .. ("a"):rep(33), "?writer=a&writer=b",
      "?offset=1", "?writer=a&serial=1" } do
      local status, doc = call(ctx.server, "POST", path .. q, "x")
      assert.are.same({ 400, "InvalidArgumentError" }, { status, doc.error.kind }, q)
      status, doc = call(ctx.server, "DELETE", path .. q)
      assert.are.same({ 400, "InvalidArgumentError" }, { status, doc.error.kind }, q)
    end
    call(ctx.server, "DELETE", path)
    s:finish()
    assert.are.equal("", s:output())
  end)
end)

for _, transport in ipairs { "tcp", "unix" } do
  describe("a connection that closes while its write waits (" .. transport .. ")", function()
    local ctx = helper.sandbox_per_block(setup, teardown, { tcp = transport == "tcp" })

    it("leaves sbxd serving, the write done without an answer", function()
      local s = start(ctx.server, ctx.box.id, "sleep 0.5; cat")
      local w = post_stdin(ctx.server, ctx.box.id, s.pid, ("q"):rep(MiB))
      helper.sleep(0.1)
      w:close()
      assert.are.same({ 200, { written = 3 } }, { write_stdin(ctx.server, ctx.box.id, s, "end") })
      local closed = { call(ctx.server, "DELETE", stdin_path(ctx.box.id, s.pid)) }
      assert.are.same({ 200, { closed = true } }, closed)
      assert.are.equal(0, s:finish().exit_code)
      assert.are.equal(("q"):rep(MiB) .. "end", s:output())
      assert.are.equal(200, (call(ctx.server, "GET", "/sandboxes/" .. ctx.box.id)))
    end)

    it("leaves sbxd serving when the process dies meanwhile", function()
      local s = start(ctx.server, ctx.box.id, "sleep 100")
      local w = post_stdin(ctx.server, ctx.box.id, s.pid, ("q"):rep(MiB))
      helper.sleep(0.1)
      w:close()
      kill(ctx.server, ctx.box.id, s.pid)
      s:finish()
      assert.are.equal(200, (call(ctx.server, "GET", "/sandboxes/" .. ctx.box.id)))
      assert.is_true(helper.alive(ctx.server.pid))
    end)
  end)
end

describe("sbxd stopping while a write waits", function()
  it("exits, forgetting the write's answer", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local s = start(server, box.id, "sleep 100")
    local w = post_stdin(server, box.id, s.pid, ("q"):rep(MiB))
    helper.sleep(0.1)
    server.stop()
    assert.is_true(helper.eventually(function() return not helper.alive(server.pid) end, 10))
    w:close()
    s.sock:close()
  end)
end)
