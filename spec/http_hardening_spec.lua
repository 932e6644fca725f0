-- sbxd's HTTP front under hostile input: bytes after a request, clients that half-close
-- or vanish mid-stream, unauthenticated bodies, long keys, long heads.
-- Most of these faults are ones a normal client (the sbx client, curl) cannot make: the
-- requests go over raw sockets (LuaSocket, blocking with a timeout), written by hand.
local socket = require "socket"
local cjson = require "cjson"
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"
local rawhttp = require "rawhttp"
local wsraw = require "wsraw"
local read_head, read_chunk, read_body = rawhttp.read_head, rawhttp.read_chunk, rawhttp.read_body
local function connect(server) return rawhttp.connect(server, 5) end
local testing = require "sbx.testing"

local MiB = 1024 * 1024
-- Sanitizer runtimes keep freed memory in quarantine: RSS says nothing there.
local MEASURES_RSS = not os.getenv("SBX_SANITIZED")

-- A request's bytes: opts.key, opts.body (with its Content-Length), opts.headers (lines).
local function request(method, path, opts)
  opts = opts or {}
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: sbxd" }
  if opts.key then lines[#lines + 1] = "Authorization: Bearer " .. opts.key end
  for _, h in ipairs(opts.headers or {}) do lines[#lines + 1] = h end
  if opts.body then lines[#lines + 1] = "Content-Length: " .. #opts.body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (opts.body or "")
end

local function start_request(server, box_id, cmd)
  return request("POST", "/sandboxes/" .. box_id .. "/processes", { key = server.key,
    headers = { "Accept: text/event-stream", "Content-Type: application/json" },
    body = cjson.encode { cmd = cmd } })
end

local function read_response(c)
  local status, headers = read_head(c)
  if not status then return nil, headers end
  return { status = status, headers = headers, body = read_body(c, headers) }
end

-- A stream's events: { {event=, data=}, ... }; output events' data decoded.
local function events_of(body)
  local events = {}
  for block in body:gmatch("(.-)\n\n") do
    local ev = { event = block:match("event: (%w+)"), data = block:match("data: ([^\n]*)") }
    if ev.event == "stdout" or ev.event == "stderr" then ev.data = helper.b64decode(ev.data) end
    if ev.event then events[#events + 1] = ev end
  end
  return events
end

local function stream_summary(body)
  local out, kinds = {}, {}
  for _, ev in ipairs(events_of(body)) do
    kinds[#kinds + 1] = ev.event
    if ev.event == "stdout" then out[#out + 1] = ev.data end
    if ev.event == "end" then out.exit_code = cjson.decode(ev.data).exit_code end
  end
  return table.concat(kinds, " "), table.concat(out), out.exit_code
end

-- Whether the server closed the connection (rather than leaving it open): what is left
-- to read, "closed" or "timeout".
local function rest_of(c)
  local data, err, partial = c:receive("*a")
  return data or partial, err or "closed"
end

local function json_error(res)
  local doc = cjson.decode(res.body)
  return doc.error.kind, doc.error.message
end

local function file_in_box(box, name)
  return box.commands:run("cat \"$HOME/" .. name .. "\" 2>/dev/null").stdout
end

describe("bytes after a request on a streaming connection", function()
  local server, box

  setup(function()
    server = helper.sbxd()
    box = sbx.create { url = server.url, api_key = server.key }
  end)

  teardown(function()
    box:close()
    server.stop()
  end)

  it("a stray CRLF after a start: the command runs once, the stream ends, then lws closes", function()
    local c = connect(server)
    c:send(start_request(server, box.id, "echo RUN >> $HOME/crlf; sleep 0.3") .. "\r\n")
    local res = assert(read_response(c))
    assert.are.equal(200, res.status)
    local kinds, _, code = stream_summary(res.body)
    assert.are.equal("start end", kinds)
    assert.are.equal(0, code)
    -- lws 4.1 takes an empty line before a request line for a bad request: it closes.
    assert.are.same({ "", "closed" }, { rest_of(c) })
    c:close()
    helper.sleep(0.3) -- a replay would have started by now
    assert.are.equal("RUN\n", file_in_box(box, "crlf"))
  end)

  it("a GET sent mid-stream is answered after the stream ends, and the command runs once", function()
    local c = connect(server)
    c:send(start_request(server, box.id, "echo RUN >> $HOME/mid; sleep 0.5; echo done"))
    local status, headers = read_head(c)
    assert.are.equal(200, status)
    assert.are.equal("chunked", headers["transfer-encoding"])
    local first = read_chunk(c)
    assert.matches("^event: start\n", first)
    c:send(request("GET", "/sandboxes/" .. box.id, { key = server.key }))
    local rest = {}
    repeat rest[#rest + 1] = read_chunk(c) until rest[#rest] == ""
    local kinds, out, code = stream_summary(first .. table.concat(rest))
    assert.are.equal("start stdout end", kinds)
    assert.are.equal("done\n", out)
    assert.are.equal(0, code)
    local res = assert(read_response(c))
    assert.are.equal(200, res.status)
    assert.are.equal(box.id, cjson.decode(res.body).id)
    c:close()
    helper.sleep(0.3)
    assert.are.equal("RUN\n", file_in_box(box, "mid"))
  end)

  it("a start sent mid-stream runs after the first, once", function()
    local c = connect(server)
    c:send(start_request(server, box.id, "echo A >> $HOME/seq; sleep 0.3"))
    assert.are.equal(200, (read_head(c)))
    assert.matches("^event: start\n", read_chunk(c))
    c:send(start_request(server, box.id, "echo B >> $HOME/seq"))
    repeat until read_chunk(c) == ""
    local res = assert(read_response(c))
    assert.are.equal(200, res.status)
    assert.are.equal("start end", (stream_summary(res.body)))
    c:close()
    helper.sleep(0.3)
    assert.are.equal("A\nB\n", file_in_box(box, "seq"))
  end)

  it("two starts in one write: the first runs once, the second is refused after it", function()
    -- lws 4.1 cannot hand over the body of a request it kept in its buffer.
    local c = connect(server)
    c:send(start_request(server, box.id, "echo A >> $HOME/two; sleep 0.2")
      .. start_request(server, box.id, "echo B >> $HOME/two"))
    local first = assert(read_response(c))
    assert.are.equal(200, first.status)
    assert.are.equal("start end", (stream_summary(first.body)))
    local second = assert(read_response(c))
    assert.are.equal(400, second.status)
    assert.are.equal("close", second.headers.connection)
    assert.are.equal("InvalidArgumentError", (json_error(second)))
    assert.are.same({ "", "closed" }, { rest_of(c) })
    c:close()
    helper.sleep(0.3)
    assert.are.equal("A\n", file_in_box(box, "two"))
  end)

  it("two JSON requests with bodies in one write: the first answered, the second refused", function()
    local c = connect(server)
    local create = request("POST", "/sandboxes", { key = server.key, body = "{}" })
    c:send(create .. create)
    local first = assert(read_response(c))
    assert.are.equal(201, first.status)
    sbx.connect(cjson.decode(first.body).id, { url = server.url, api_key = server.key }):kill()
    local second = assert(read_response(c))
    assert.are.equal(400, second.status)
    assert.are.same({ "", "closed" }, { rest_of(c) })
    c:close()
  end)

  it("GETs pipelined in one write are answered in order on the same connection", function()
    local c = connect(server)
    local get = request("GET", "/sandboxes/" .. box.id, { key = server.key })
    c:send(get .. get .. request("GET", "/nowhere", { key = server.key }))
    assert.are.equal(200, assert(read_response(c)).status)
    assert.are.equal(200, assert(read_response(c)).status)
    assert.are.equal(404, assert(read_response(c)).status)
    c:close()
  end)
end)

describe("sbxd after bytes after requests", function()
  it("keeps serving other connections, and exits on SIGTERM", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local faults = {
      start_request(server, box.id, "sleep 0.2") .. "\r\n",
      start_request(server, box.id, "sleep 0.2") .. start_request(server, box.id, "true"),
      start_request(server, box.id, "sleep 0.2") .. request("GET", "/sandboxes", { key = server.key }),
    }
    local conns = {}
    for i, bytes in ipairs(faults) do
      conns[i] = connect(server)
      conns[i]:send(bytes)
    end
    for _, c in ipairs(conns) do
      assert.are.equal(200, assert(read_response(c)).status)
    end
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
    for _, c in ipairs(conns) do c:close() end
    local started = core.now()
    testing.kill(server.daemon, 15)
    assert.is_true(helper.eventually(function() return not helper.alive(server.pid) end, 5),
      "sbxd did not exit on SIGTERM")
    assert.is_true(core.now() - started < 5)
    server.stop()
  end)
end)

describe("a client that half-closes after its request", function()
  local server, box

  setup(function()
    server = helper.sbxd()
    box = sbx.create { url = server.url, api_key = server.key }
  end)

  teardown(function()
    box:close()
    server.stop()
  end)

  it("gets its JSON answer", function()
    local c = connect(server)
    c:send(request("GET", "/sandboxes/" .. box.id, { key = server.key }))
    c:shutdown("send")
    local res = assert(read_response(c))
    assert.are.equal(200, res.status)
    assert.are.equal(box.id, cjson.decode(res.body).id)
    assert.are.same({ "", "closed" }, { rest_of(c) })
    c:close()
  end)

  it("gets a whole stream: head, start, output, end", function()
    local c = connect(server)
    c:send(start_request(server, box.id, "echo hi; sleep 0.3; echo there"))
    c:shutdown("send")
    local res = assert(read_response(c))
    assert.are.equal(200, res.status)
    assert.are.equal("text/event-stream", res.headers["content-type"])
    local kinds, out, code = stream_summary(res.body)
    assert.are.equal("start stdout stdout end", kinds)
    assert.are.equal("hi\nthere\n", out)
    assert.are.equal(0, code)
    assert.are.same({ "", "closed" }, { rest_of(c) })
    c:close()
  end)
end)

describe("a client that reads slowly", function()
  it("gets every byte of a large output, in order, once it reads", function()
    -- Not reading for a while fills the socket: sbxd keeps what it could not send.
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local c = connect(server)
    c:send(start_request(server, box.id, "seq 1 400000"))
    helper.sleep(1)
    local res = assert(read_response(c))
    assert.are.equal(200, res.status)
    local kinds, out, code = stream_summary(res.body)
    assert.matches("^start stdout.* end$", kinds)
    assert.are.equal(0, code)
    local want = {}
    for i = 1, 400000 do want[i] = i end
    assert.is_true(out == table.concat(want, "\n") .. "\n", "the output differs")
    c:close()
    box:close()
    server.stop()
  end)
end)

describe("a client that goes away mid-stream", function()
  -- It is killed once --resume-grace (short here) passes without another reader.
  local function check_killed(opts, tag, close)
    opts.args = opts.args or {}
    table.insert(opts.args, "--resume-grace")
    table.insert(opts.args, "0.3")
    local server = helper.sbxd(opts)
    local box = sbx.create { url = server.url, api_key = server.key }
    local c = connect(server)
    c:send(start_request(server, box.id, "sleep " .. tag))
    assert.are.equal(200, (read_head(c)))
    assert.matches("^event: start\n", read_chunk(c))
    assert.is_true(#helper.pgrep("sleep " .. tag) >= 1)
    close(c)
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep " .. tag) == 0 end, 3),
      "the command outlived its client")
    assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
    box:close()
    server.stop()
  end

  it("over TCP: the command is killed", function()
    check_killed({}, "7.31", function(c) c:close() end)
  end)

  it("over a unix socket: the command is killed", function()
    check_killed({ tcp = false }, "7.32", function(c) c:close() end)
  end)

  it("after a half-close, over TCP: the command is killed at the next write", function()
    -- A half-closed client that then closes is told from one still reading only by a
    -- write; the keep-alive comment is the next one here.
    check_killed({ args = { "--keepalive", "0.5" } }, "7.33", function(c)
      c:shutdown("send")
      socket.sleep(0.3)
      c:close()
    end)
  end)

  it("after a half-close, over a unix socket: the command is killed", function()
    check_killed({ tcp = false }, "7.34", function(c)
      c:shutdown("send")
      socket.sleep(0.3)
      c:close()
    end)
  end)
end)

describe("an unauthenticated request", function()
  local server, big

  setup(function()
    server = helper.sbxd()
    big = os.tmpname()
    helper.sh(("head -c %d /dev/zero | tr '\\0' x > %s"):format(16 * MiB, big))
  end)

  teardown(function()
    os.remove(big)
    server.stop()
  end)

  local function hwm_kib(pid)
    local f = assert(io.open("/proc/" .. pid .. "/status"))
    local status = f:read("a")
    f:close()
    return tonumber(status:match("VmHWM:%s*(%d+)"))
  end

  -- n curls at once: how many got each status, and the bytes of body they sent in all.
  local function curl_post(n, extra)
    local host = server.url:match("^http://(.*)$")
    local cmd = ("seq %d | xargs -P %d -I{} curl -s -o /dev/null -w '%%{http_code} %%{size_upload}\\n' %s "
      .. "-H 'Content-Type: application/json' --data-binary @%s http://%s/sandboxes")
      :format(n, n, extra, big, host)
    local codes, sent = {}, 0
    for code, size in helper.sh(cmd):gmatch("(%d+) (%d+)") do
      codes[code] = (codes[code] or 0) + 1
      sent = sent + tonumber(size)
    end
    return codes, sent
  end

  it("60 of 16 MiB each: every one gets 401 and sbxd's memory stays small", function()
    local before = hwm_kib(server.pid)
    -- Without "Expect: 100-continue", curl sends the bodies at once.
    assert.are.same({ ["401"] = 60 }, curl_post(60, "-H 'Expect:'"))
    if MEASURES_RSS then
      assert.is_true(hwm_kib(server.pid) - before < 32 * 1024,
        ("sbxd's peak RSS grew by %d KiB"):format(hwm_kib(server.pid) - before))
    end
    assert.are.equal("table", type(sbx.list { url = server.url, api_key = server.key }))
  end)

  it("curl waiting for 100-continue gets 401 without sending the body", function()
    local codes, sent = curl_post(1, "")
    assert.are.same({ ["401"] = 1 }, codes)
    assert.are.equal(0, sent)
  end)

  it("the sbx client raises AuthenticationError for a 16 MiB create", function()
    local err = helper.error_of(sbx.create, { url = server.url, api_key = "wrong",
      metadata = { k = ("x"):rep(16 * MiB - 64) } })
    assert.are.equal("AuthenticationError", err.kind)
    assert.are.equal(401, err.status)
  end)

  it("a client that keeps sending after the 401 is closed, not read", function()
    local c = connect(server)
    c:send(("POST /sandboxes HTTP/1.1\r\nHost: sbxd\r\nContent-Length: %d\r\n\r\n"):format(64 * MiB))
    local res = assert(read_response(c))
    assert.are.equal(401, res.status)
    assert.are.equal("close", res.headers.connection)
    assert.are.equal("AuthenticationError", (json_error(res)))
    -- sbxd reads no more: the socket buffers fill and the rest of the body cannot go.
    c:settimeout(0.5)
    local chunk = ("x"):rep(MiB)
    local sent = 0
    for _ = 1, 64 do
      local n, err, partial = c:send(chunk)
      sent = sent + (n or partial or 0)
      if err then break end
    end
    assert.is_true(sent < 32 * MiB, ("sbxd took %d MiB of a refused body"):format(sent // MiB))
    c:close()
  end)

  it("a POST without Content-Length gets 411 and a close", function()
    local c = connect(server)
    c:send("POST /sandboxes HTTP/1.1\r\nHost: sbxd\r\nAuthorization: Bearer " .. server.key .. "\r\n\r\n")
    local res = assert(read_response(c))
    assert.are.equal(411, res.status)
    assert.are.equal("InvalidArgumentError", (json_error(res)))
    c:close()
  end)
end)

describe("a request's Content-Length", function()
  local server

  setup(function() server = helper.sbxd() end)
  teardown(function() server.stop() end)

  -- lws would read such a body at a length of its own making: of two lengths, the first
  -- (a request smuggled in the rest), and for -1 or 20 digits, until its body timeout,
  -- answering nothing
  for _, case in ipairs {
    { "two Content-Length fields", { "Content-Length: 2", "Content-Length: 3" } },
    { "a negative Content-Length", { "Content-Length: -1" } },
    { "a Content-Length with a sign", { "Content-Length: +2" } },
    { "a Content-Length of 20 digits", { "Content-Length: 99999999999999999999" } },
    { "a Content-Length that is not a number", { "Content-Length: 2x" } },
  } do
    it(case[1] .. " gets 400 at once, and nothing is made", function()
      local before = #sbx.list { url = server.url, api_key = server.key }
      local c = connect(server)
      c:settimeout(2) -- the answer comes at once, not at lws's body timeout (5 s)
      c:send(request("POST", "/sandboxes", { key = server.key, headers = case[2] }) .. "{}")
      local res = assert(read_response(c))
      assert.are.equal(400, res.status)
      assert.are.same({ "InvalidArgumentError", "Content-Length must be one number of bytes" },
        { json_error(res) })
      assert.are.equal("close", res.headers["connection"])
      c:close()
      assert.are.equal(before, #sbx.list { url = server.url, api_key = server.key })
    end)
  end

  it("over --max-body (16 MiB here) gets 413 at once, before the body", function()
    local c = connect(server)
    c:settimeout(2)
    local too_long = { "Content-Length: " .. 16 * MiB + 1 }
    c:send(request("POST", "/sandboxes", { key = server.key, headers = too_long }) .. "{")
    local res = assert(read_response(c))
    assert.are.equal(413, res.status)
    assert.are.same({ "InvalidArgumentError", "request body over the limit" }, { json_error(res) })
    c:close()
  end)

  it("with Expect: 100-continue gets 100 Continue before its body, then its answer", function()
    -- curl sends such a head before a body over 1 MiB and waits 1 s for the 100 before it
    -- sends the body anyway: lws 4.1 sends no 100 by itself
    local c = connect(server)
    c:settimeout(3)
    local body = cjson.encode { metadata = { pad = ("x"):rep(1024 * 1024) } }
    c:send(request("POST", "/sandboxes", { key = server.key,
      headers = { "Expect: 100-continue", "Content-Length: " .. #body } }))
    assert.are.same({ "HTTP/1.1 100 Continue", "" }, { c:receive("*l"), c:receive("*l") })
    c:send(body)
    local res = assert(read_response(c))
    assert.are.equal(201, res.status)
    c:close()
    sbx.connect(cjson.decode(res.body).id, { url = server.url, api_key = server.key }):kill()
  end)

  it("with blanks after it is taken", function()
    local c = connect(server)
    c:send(request("POST", "/sandboxes", { key = server.key, headers = { "Content-Length: 2 \t" } }) .. "{}")
    local res = assert(read_response(c))
    assert.are.equal(201, res.status)
    c:close()
    sbx.connect(cjson.decode(res.body).id, { url = server.url, api_key = server.key }):kill()
  end)
end)

describe("a request's Transfer-Encoding", function()
  local server

  setup(function() server = helper.sbxd() end)
  teardown(function() server.stop() end)

  local function chunked(data) return ("%x\r\n%s\r\n0\r\n\r\n"):format(#data, data) end

  -- What sbxd answers, whether it then closes the connection (once the client closed its
  -- side: what a client still sending reads is the answer), and how many sandboxes it
  -- made meanwhile. Nothing of the body may be read, as a body or as a request.
  local function answer_to(bytes)
    local before = #sbx.list { url = server.url, api_key = server.key }
    local c = connect(server)
    c:settimeout(3)
    c:send(bytes)
    local res = assert(read_response(c))
    c:shutdown("send")
    local rest, how = rest_of(c)
    c:close()
    return res, rest, how, #sbx.list { url = server.url, api_key = server.key } - before
  end

  -- With a Content-Length too, the head gives two lengths: a proxy that took the chunks
  -- would pass on the rest of the Content-Length's body as a request of its own.
  for _, case in ipairs {
    { "with a Content-Length gets 400", { "Content-Length: 2" }, "{}", 400,
      "a request has a Content-Length or a Transfer-Encoding, not both" },
    { "in chunks gets 411", {}, chunked("{}"), 411,
      "sbxd takes no Transfer-Encoding: a body needs a Content-Length" },
  } do
    it(case[1] .. " and a close, and nothing is made", function()
      local headers = { "Transfer-Encoding: chunked", table.unpack(case[2]) }
      local res, rest, how, made = answer_to(request("POST", "/sandboxes", { key = server.key,
        headers = headers }) .. case[3])
      assert.are.equal(case[4], res.status)
      assert.are.same({ "InvalidArgumentError", case[5] }, { json_error(res) })
      assert.are.same({ "close", "", "closed", 0 }, { res.headers["connection"], rest, how, made })
    end)
  end

  it("on a GET whose chunks hold a request: 411 and a close, and that request never runs", function()
    local inner = request("POST", "/sandboxes", { key = server.key, body = "{}" })
    for _, key in ipairs { server.key, false } do
      local res, rest, how, made = answer_to(request("GET", "/sandboxes", { key = key,
        headers = { "Transfer-Encoding: chunked" } }) .. chunked(inner))
      assert.are.equal(key and 411 or 401, res.status)
      assert.are.same({ "close", "", "closed", 0 }, { res.headers["connection"], rest, how, made })
    end
  end)

  it("on a WebSocket upgrade gets 411 instead of the upgrade", function()
    local box <close> = sbx.create { url = server.url, api_key = server.key }
    local s, status, body = wsraw.open(server, "/sandboxes/" .. box.id .. "/processes/ws",
      { headers = { "Transfer-Encoding: chunked" } })
    assert.is_nil(s, "upgraded")
    assert.are.equal(411, status)
    assert.are.equal("InvalidArgumentError", cjson.decode(body).error.kind)
  end)
end)


describe("a CONNECT", function()
  local server

  setup(function() server = helper.sbxd() end)
  teardown(function() server.stop() end)

  -- lws 4.1 makes a CONNECT's connection a raw tunnel, where no request ever ends: before
  -- sbxd answered it, it stayed open and unanswered for ever, with a key or without
  for _, case in ipairs {
    { "without a key", false },
    { "with the key", true },
    { "with tunnel bytes after its head", false, "\x16\x03\x01\x00\x05hello" },
  } do
    it(case[1] .. " gets 405 and a close at once", function()
      local c = connect(server)
      c:settimeout(2)
      c:send(request("CONNECT", "example.org:443", { key = case[2] and server.key }) .. (case[3] or ""))
      local res = assert(read_response(c))
      assert.are.equal(405, res.status)
      assert.are.same({ "InvalidArgumentError", "CONNECT is not served: sbxd tunnels nothing" },
        { json_error(res) })
      assert.are.equal("closed", select(2, rest_of(c)))
      c:close()
      assert.are.equal(0, #sbx.list { url = server.url, api_key = server.key }) -- and it serves on
    end)
  end
end)

describe("a HEAD", function()
  local server

  setup(function() server = helper.sbxd() end)
  teardown(function() server.stop() end)

  -- An answer to a HEAD is its head alone: a body after it would be read as the start of
  -- the next answer on the connection (a proxy's kept-alive upstream connection too)
  it("gets heads without bodies, and the connection's next answer is whole", function()
    local c = connect(server)
    c:settimeout(2)
    for _, case in ipairs {
      { "/health", nil, 200, "11" }, -- a probe's: no key needed, as for GET
      { "/sandboxes", server.key, 405, "72" },
      { "/sandboxes", nil, 401, "77" },
    } do
      c:send(request("HEAD", case[1], { key = case[2] }))
      local status, headers = read_head(c)
      assert.are.equal(case[3], status)
      assert.are.equal(case[4], headers["content-length"]) -- the length a GET's body would have
      c:send(request("GET", "/health"))
      local res = assert(read_response(c))
      assert.are.same({ 200, '{"ok":true}' }, { res.status, res.body })
    end
    c:close()
  end)
end)

describe("API keys", function()
  for _, len in ipairs { 505, 4096 } do
    it("of " .. len .. " bytes work", function()
      local server = helper.sbxd { key = ("k"):rep(len) }
      local box = sbx.create { url = server.url, api_key = server.key }
      assert.are.equal("hi\n", box.commands:run("echo hi").stdout)
      local err = helper.error_of(sbx.list, { url = server.url, api_key = ("k"):rep(len - 1) .. "j" })
      assert.are.equal("AuthenticationError", err.kind)
      box:close()
      server.stop()
    end)
  end

  it("with inner spaces and UTF-8 work", function()
    local server = helper.sbxd { key = "k y é/+=" }
    local box = sbx.create { url = server.url, api_key = server.key }
    assert.are.equal("hi\n", box.commands:run("echo hi").stdout)
    local s <close> = box.commands:spawn("echo there")
    assert.are.equal("there\n", s:wait().stdout)
    box:close()
    server.stop()
  end)

  it("that no header can carry are refused: by sbxd at start, by the client before a request", function()
    local message = "must have no control character (CR, LF, tab, ...) and no space at either end"
    for _, key in ipairs { "k\r\nX-Evil: 1", "k\tk", " k", "k ", "k\127" } do
      local out = helper.sh(("timeout 5 %s --listen 127.0.0.1:0 --api-key %s 2>&1; echo rc=$?"):format(
        helper.SBXD, helper.q(key)))
      assert.matches("the API key " .. message, out, 1, true)
      assert.matches("rc=2$", out)
      local err = helper.error_of(sbx.create, { url = "http://127.0.0.1:1", api_key = key })
      assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
      assert.are.equal("api_key " .. message .. ": it is sent in an HTTP header", err.message)
    end
  end)

  it("over 4096 bytes are refused at start, from --api-key or $SBXD_API_KEY", function()
    local key = ("k"):rep(4097)
    -- (timeout: an sbxd that took the key would run until stopped)
    local start = "timeout 5 " .. helper.SBXD .. " --listen 127.0.0.1:0 %s 2>&1; echo rc=$?"
    local env = "SBXD_API_KEY=" .. key .. " "
    for _, cmd in ipairs { start:format("--api-key " .. key), env .. start:format("") } do
      local out = helper.sh(cmd)
      assert.matches("API key is longer than 4096 bytes", out, 1, true)
      assert.matches("rc=2$", out)
    end
  end)
end)

describe("request heads", function()
  local server

  setup(function() server = helper.sbxd() end)
  teardown(function() server.stop() end)

  local function answer(bytes)
    local c = connect(server)
    c:send(bytes)
    local res, err = read_response(c)
    c:close()
    return res, err
  end

  local function still_serving()
    local res = answer(request("GET", "/sandboxes", { key = server.key }))
    return res and res.status == 200
  end

  for _, len in ipairs { 8193, 10000, 100000 } do
    it("a path of " .. len .. " bytes gets 414", function()
      local res = assert(answer(request("GET", "/" .. ("a"):rep(len - 1), { key = server.key })))
      assert.are.equal(414, res.status)
      assert.are.equal("InvalidArgumentError", (json_error(res)))
      assert.is_true(still_serving())
    end)
  end

  it("a query of 10000 bytes gets 414", function()
    local res = assert(answer(request("GET", "/sandboxes?" .. ("a"):rep(10000), { key = server.key })))
    assert.are.equal(414, res.status)
  end)

  it("a path of 8192 bytes is served (404: no such route)", function()
    local res = assert(answer(request("GET", "/" .. ("a"):rep(8191), { key = server.key })))
    assert.are.equal(404, res.status)
  end)

  for _, len in ipairs { 8193, 100000 } do
    it("a known header field of " .. len .. " bytes gets 431, with or without a key", function()
      for _, key in ipairs { server.key, false } do
        local res = assert(answer(request("GET", "/sandboxes",
          { key = key or nil, headers = { "User-Agent: " .. ("u"):rep(len) } })))
        assert.are.equal(431, res.status)
        assert.are.equal("InvalidArgumentError", (json_error(res)))
      end
      assert.is_true(still_serving())
    end)
  end

  it("an Authorization field of 100000 bytes gets 431", function()
    local res = assert(answer(request("GET", "/sandboxes", { key = ("k"):rep(100000) })))
    assert.are.equal(431, res.status)
  end)

  it("a long path with a body gets 414 and a close", function()
    local c = connect(server)
    c:send(request("POST", "/" .. ("a"):rep(10000), { key = server.key, body = "{}" }))
    local res = assert(read_response(c))
    assert.are.equal(414, res.status)
    assert.are.equal("close", res.headers.connection)
    assert.are.same({ "", "closed" }, { rest_of(c) })
    c:close()
  end)

  it("a head of 12 KB in other fields is served", function()
    local res = assert(answer(request("GET", "/sandboxes",
      { key = server.key, headers = { "X-Pad: " .. ("p"):rep(6000), "X-Pad2: " .. ("p"):rep(6000) } })))
    assert.are.equal(200, res.status)
  end)

  it("a head over lws's 16 KiB buffer closes the connection without a status", function()
    local res, err = answer(request("GET", "/sandboxes",
      { key = server.key, headers = { "X-Pad: " .. ("p"):rep(20000) } }))
    assert.is_nil(res)
    assert.are.equal("closed", err)
    assert.is_true(still_serving())
  end)

  it("the sbx client maps 411, 414 and 431 to InvalidArgumentError", function()
    local errors = require "sbx.errors"
    for _, status in ipairs { 411, 414, 431 } do
      assert.are.equal("InvalidArgumentError", errors.kind_for(status))
    end
  end)
end)

describe("sbxd's memory", function()
  it("is at most 8 KiB per command in flight", function()
    local server = helper.sbxd()
    local box = sbx.create { url = server.url, api_key = server.key }
    local function start_many(n)
      local conns = {}
      for i = 1, n do
        conns[i] = connect(server)
        conns[i]:send(start_request(server, box.id, "sleep 30"))
        assert.are.equal(200, (read_head(conns[i])))
        assert.matches("^event: start\n", read_chunk(conns[i]))
      end
      return conns
    end
    for _, c in ipairs(start_many(20)) do c:close() end -- warm: allocator, lws tables
    helper.eventually(function() return #helper.pgrep("sleep 30") == 0 end, 3)
    local before = helper.rss_kib(server.pid)
    local conns = start_many(200)
    local per_command = (helper.rss_kib(server.pid) - before) / 200
    for _, c in ipairs(conns) do c:close() end
    if MEASURES_RSS then
      assert.is_true(per_command <= 8, ("%.1f KiB per command in flight"):format(per_command))
    end
    box:close()
    server.stop()
  end)

  it("holds at most 256 header tables for clients that send a head slowly", function()
    local server = helper.sbxd()
    local before = helper.rss_kib(server.pid)
    local conns = {}
    for i = 1, 400 do
      conns[i] = connect(server)
      conns[i]:send("GET /sandboxes HTTP/1.1\r\nX-Pad: " .. ("p"):rep(15000))
    end
    helper.sleep(0.5)
    local grown = helper.rss_kib(server.pid) - before
    for _, c in ipairs(conns) do c:close() end
    -- 256 tables of 16 KiB and their index, and 400 connections' lws state.
    if MEASURES_RSS then
      assert.is_true(grown < 8 * 1024, ("sbxd grew by %d KiB"):format(grown))
    end
    server.stop()
  end)
end)
