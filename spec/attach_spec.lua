-- A process's output log, attach and resume, background processes and binary frames, at
-- the wire (docs/PROTOCOL.md, "Output log, attach and resume" and "Binary frames").
-- The requests go over raw sockets (LuaSocket, blocking with a timeout): the specs cut
-- streams at chosen points, leave a socket unread, and read ids and frames byte by
-- byte, which a normal client does not let one do.
local cjson = require "cjson"
local sbx = require "sbx"
local helper = require "helper"
local rawhttp = require "rawhttp"
local connect, read_chunk, read_body = rawhttp.connect, rawhttp.read_chunk, rawhttp.read_body
local function read_head(c) return assert(rawhttp.read_head(c)) end

local FRAMES = "application/vnd.sbx.frames"
-- Sanitizer runtimes keep freed memory in quarantine: RSS says nothing there.
local MEASURES_RSS = not os.getenv("SBX_SANITIZED")

local function request(server, method, path, headers, body)
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: sbxd",
    "Authorization: Bearer " .. server.key }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

-- A stream as a list of {kind=, id=, data=}: output decoded, start and end as tables.
-- Frames (type, u32 length, payload; output: u64 offset after, bytes) read the same.
local KIND = { "stdout", "stderr", "start", "end", "keepalive" }
local function events_of(body, frames)
  local events = {}
  if frames then
    local at = 1
    while at <= #body do
      local t, len = string.unpack(">BI4", body, at)
      local payload = body:sub(at + 5, at + 4 + len)
      at = at + 5 + len
      local ev = { kind = assert(KIND[t], "unknown frame type") }
      if t <= 2 then ev.id, ev.data = string.unpack(">I8", payload), payload:sub(9)
      elseif t <= 4 then ev.data = cjson.decode(payload) end
      events[#events + 1] = ev
    end
    return events
  end
  for block in body:gmatch("(.-)\n\n") do
    local kind, data = block:match("event: (%w+)"), block:match("data: ([^\n]*)")
    if kind then
      local ev = { kind = kind, id = tonumber(block:match("id: (%d+)")) }
      if kind == "stdout" or kind == "stderr" then ev.data = helper.b64decode(data)
      else ev.data = cjson.decode(data) end
      events[#events + 1] = ev
    end
  end
  return events
end

-- What a stream said: start, end, each channel's bytes, the bytes of both in order, and
-- whether every id is the offset after its bytes.
local function summary(events)
  local s = { out = {}, err = {}, all = {}, ids_ok = true }
  local pos
  for _, ev in ipairs(events) do
    if ev.kind == "start" then s.start = ev.data; pos = ev.data.from
    elseif ev.kind == "end" then s["end"] = ev.data
    elseif ev.kind == "stdout" or ev.kind == "stderr" then
      pos = pos + #ev.data
      s.ids_ok = s.ids_ok and ev.id == pos
      table.insert(ev.kind == "stdout" and s.out or s.err, ev.data)
      s.all[#s.all + 1] = ev.data
    end
  end
  s.out, s.err, s.all, s.last = table.concat(s.out), table.concat(s.err), table.concat(s.all), pos
  return s
end

-- A whole response on a connection of its own: status, headers, body.
local function exchange(server, method, path, headers, body)
  local c = connect(server)
  c:send(request(server, method, path, headers, body))
  local status, h = read_head(c)
  local res = { status = status, headers = h, body = read_body(c, h) }
  c:close()
  return res
end

local function attach(server, box, pid, query, headers)
  local path = ("/sandboxes/%s/processes/%d/events%s"):format(box.id, pid, query or "")
  local res = exchange(server, "GET", path, headers)
  local frames = res.headers["content-type"] == FRAMES
  if res.status == 200 then res.s = summary(events_of(res.body, frames))
  else res.error = cjson.decode(res.body).error end
  return res
end

-- Starts cmd and reads its stream's head and start, then cuts the connection (or
-- returns it with `keep`). Returns the start's data.
local function start_and_cut(server, box, cmd, background, keep)
  local c = connect(server)
  c:send(request(server, "POST", "/sandboxes/" .. box.id .. "/processes",
    { "Accept: text/event-stream", "Content-Type: application/json" },
    cjson.encode { cmd = cmd, background = background }))
  assert.are.equal(200, (read_head(c)))
  local start = cjson.decode(read_chunk(c):match("data: ([^\n]*)"))
  if keep then return start, c end
  c:close()
  return start
end

local function running(box, pid)
  for _, p in ipairs(box.commands:list()) do if p.pid == pid then return true end end
  return false
end

--- Waits until the log of an exited process holds all of its `size` bytes. A command may
-- exit with output still in its pipe (a heavy writer's grows to 1 MiB), which sbxd
-- reads after: the log is whole once an attach at its last byte is taken (one past
-- what came is refused).
local function until_logged(server, box, pid, size)
  assert.is_true(helper.eventually(function() return not running(box, pid) end, 10))
  assert.is_true(helper.eventually(function()
    return attach(server, box, pid, "?offset=" .. size).status == 200
  end, 10), "the log never reached " .. size .. " bytes")
end

-- Known bytes on both streams, in an order the shell fixes: 3 on stdout, 4 on stderr,
-- 5 on stdout, 6 on stderr (18 bytes), with pauses so that each write is read alone.
local KNOWN = "printf abc; sleep 0.05; printf DEFG >&2; sleep 0.05; printf hijkl; sleep 0.05; "
  .. "printf MNOPQR >&2"
local KNOWN_ALL = "abcDEFGhijklMNOPQR"

describe("attach", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  it("to a running background process from 0 replays all, then follows live", function()
    local start = start_and_cut(ctx.server, ctx.box, "printf one; sleep 0.5; printf two >&2", true)
    assert.are.equal(0, start.from)
    assert.is_true(start.serial > 0)
    helper.sleep(0.2)
    assert.is_true(running(ctx.box, start.pid), "a background process lives on without its reader")
    local res = attach(ctx.server, ctx.box, start.pid)
    assert.are.equal(200, res.status)
    assert.are.same({ pid = start.pid, serial = start.serial, from = 0, keepalive = 15 }, res.s.start)
    assert.are.equal("one", res.s.out)
    assert.are.equal("two", res.s.err)
    assert.is_true(res.s.ids_ok)
    assert.are.same({ exit_code = 0, signal = cjson.null, error = cjson.null }, res.s["end"])
  end)

  it("from N gets exactly the bytes at offsets >= N, of both streams in order", function()
    local start = start_and_cut(ctx.server, ctx.box, KNOWN, true)
    until_logged(ctx.server, ctx.box, start.pid, #KNOWN_ALL)
    for n = 0, #KNOWN_ALL do
      local res = attach(ctx.server, ctx.box, start.pid, ("?offset=%d&serial=%d"):format(n, start.serial))
      assert.are.equal(200, res.status)
      assert.are.equal(n, res.s.start.from)
      assert.are.equal(KNOWN_ALL:sub(n + 1), res.s.all, "from " .. n)
      assert.is_true(res.s.ids_ok)
      assert.are.equal(0, res.s["end"].exit_code, "a finished process's log replays and ends")
    end
  end)

  it("takes Last-Event-ID over offset", function()
    local start = start_and_cut(ctx.server, ctx.box, KNOWN, true)
    assert.is_true(helper.eventually(function() return not running(ctx.box, start.pid) end, 5))
    local res = attach(ctx.server, ctx.box, start.pid, "?offset=1", { "Last-Event-ID: 7" })
    assert.are.equal(7, res.s.start.from)
    assert.are.equal("hijklMNOPQR", res.s.all)
  end)

  it("sends frames and SSE with the same bytes and ids", function()
    local start = start_and_cut(ctx.server, ctx.box, KNOWN .. "; head -c 100000 /dev/urandom | od -An", true)
    assert.is_true(helper.eventually(function() return not running(ctx.box, start.pid) end, 5))
    local sse = attach(ctx.server, ctx.box, start.pid, "?offset=5")
    local frames = attach(ctx.server, ctx.box, start.pid, "?offset=5", { "Accept: " .. FRAMES })
    assert.are.equal("text/event-stream", sse.headers["content-type"])
    assert.are.equal(FRAMES, frames.headers["content-type"])
    assert.is_true(sse.s.ids_ok and frames.s.ids_ok)
    assert.are.same(sse.s.start, frames.s.start)
    assert.are.same(sse.s["end"], frames.s["end"])
    assert.is_true(sse.s.out == frames.s.out and sse.s.err == frames.s.err, "the bytes differ")
    assert.are.equal(sse.s.last, frames.s.last)
    assert.is_true(#sse.s.out > 100000)
  end)

  it("starts a command with frames when Accept asks for them first", function()
    local res = exchange(ctx.server, "POST", "/sandboxes/" .. ctx.box.id .. "/processes",
      { "Accept: " .. FRAMES .. ", text/event-stream", "Content-Type: application/json" },
      cjson.encode { cmd = KNOWN })
    assert.are.equal(FRAMES, res.headers["content-type"])
    local s = summary(events_of(res.body, true))
    assert.are.equal(KNOWN_ALL, s.all)
    assert.is_true(s.ids_ok)
    assert.are.equal(0, s.start.from)
    assert.are.equal(0, s["end"].exit_code)
  end)

  it("resumes a paused sandbox", function()
    local start = start_and_cut(ctx.server, ctx.box, "sleep 0.3; echo woke", true)
    ctx.box:pause()
    local res = attach(ctx.server, ctx.box, start.pid)
    assert.are.equal("woke\n", res.s.out)
    assert.are.equal("running", ctx.box:info().state)
  end)

  describe("refuses", function()
    local pid, serial

    setup(function()
      local start = start_and_cut(ctx.server, ctx.box, "printf 12345", true)
      pid, serial = start.pid, start.serial
      until_logged(ctx.server, ctx.box, pid, 5)
    end)

    local function refused(status, kind, query, p, box)
      local res = attach(ctx.server, box or ctx.box, p or pid, query)
      assert.are.equal(status, res.status, query)
      assert.are.equal(kind, res.error.kind)
    end

    it("with 404 an unknown pid, another sandbox's, a wrong serial", function()
      refused(404, "NotFoundError", "", 4000000)
      local other = sbx.create(ctx.opts)
      refused(404, "NotFoundError", "", pid, other)
      other:close()
      refused(404, "NotFoundError", ("?serial=%d"):format(serial + 1000))
      assert.are.equal(200, attach(ctx.server, ctx.box, pid, ("?serial=%d"):format(serial)).status)
    end)

    it("with 400 a bad offset or serial, an unknown parameter, an offset past the end", function()
      -- (writer is a WebSocket session's: an event stream takes no stdin)
      for _, q in ipairs { "?offset=x", "?offset=-1", "?offset=", "?offset=1.5", "?serial=abc",
        "?offset=99999999999999999999", "?foo=1", "?offset=1&offset=2", "?offset=6", "?writer=w" } do
        refused(400, "InvalidArgumentError", q)
      end
      assert.are.equal(200, attach(ctx.server, ctx.box, pid, "?offset=5").status)
      local res = attach(ctx.server, ctx.box, pid, "", { "Last-Event-ID: x" })
      assert.are.equal(400, res.status)
    end)
  end)
end)

describe("a background process without a reader", function()
  local ctx = helper.sandbox_per_block(setup, teardown, { args = { "--max-log", "100000" } })

  it("keeps the tail of its output past --max-log, and attach says where it begins", function()
    local start = start_and_cut(ctx.server, ctx.box, "seq 1 100000", true)
    local want = helper.sh("seq 1 100000") .. "\n"
    until_logged(ctx.server, ctx.box, start.pid, #want)
    local res = attach(ctx.server, ctx.box, start.pid)
    assert.are.equal(#want - 100000, res.s.start.from)
    assert.is_true(res.s.out == want:sub(-100000), "the tail differs")
    assert.are.equal(#want, res.s.last)
  end)
end)

describe("--max-logs", function()
  local ctx = helper.sandbox_per_block(setup, teardown,
    { args = { "--max-log", "200000", "--max-logs", "500000" } })

  it("keeps every log together within it", function()
    -- each ends before the next starts: the order they end in, by which the oldest go,
    -- is the order they started in
    local pids = {}
    for i = 1, 6 do
      pids[i] = start_and_cut(ctx.server, ctx.box, "head -c 150000 /dev/zero", true).pid
      until_logged(ctx.server, ctx.box, pids[i], 150000)
    end
    local held, kept = 0, 0
    for _, pid in ipairs(pids) do
      local res = attach(ctx.server, ctx.box, pid)
      if res.status == 200 then
        held = held + #res.s.out
        kept = kept + 1
      end
    end
    assert.is_true(held <= 500000, ("%d bytes held"):format(held))
    assert.are.equal(200, attach(ctx.server, ctx.box, pids[6]).status, "the latest stays")
    assert.is_true(kept >= 3, ("%d kept"):format(kept))
  end)
end)

describe("a start with a key (?key=)", function()
  local ctx = helper.sandbox_per_block(setup, teardown)
  local HEADERS = { "Accept: text/event-stream", "Content-Type: application/json" }

  local function start(key, cmd, background)
    local path = ("/sandboxes/%s/processes?key=%s"):format(ctx.box.id, key)
    local body = cjson.encode { cmd = cmd, background = background }
    local res = exchange(ctx.server, "POST", path, HEADERS, body)
    if res.status == 200 then res.s = summary(events_of(res.body)) end
    return res
  end

  local function signal(query)
    local path = ("/sandboxes/%s/processes/signal%s"):format(ctx.box.id, query)
    local res = exchange(ctx.server, "POST", path, { "Content-Type: application/json" },
      '{"signal":"SIGKILL"}')
    return res.status, cjson.decode(res.body)
  end

  it("sent again gets the stream of the process the first began, whole; the command ran once", function()
    local cmd = "echo ran >> /tmp/keyed.1; printf abc; sleep 0.2; printf def >&2"
    local first = start("k1", cmd)
    local again = start("k1", cmd)
    assert.are.equal(200, again.status)
    assert.are.same({ first.s.start.pid, first.s.start.serial }, { again.s.start.pid, again.s.start.serial })
    assert.are.same({ "abc", "def", 0 }, { again.s.out, again.s.err, again.s["end"].exit_code })
    assert.is_true(again.s.ids_ok)
    assert.are.equal("ran\n", ctx.box.commands:run("cat /tmp/keyed.1").stdout)
    -- another key starts another process
    assert.are_not.equal(first.s.start.pid, start("k2", cmd).s.start.pid)
    assert.are.equal("ran\nran\n", ctx.box.commands:run("cat /tmp/keyed.1").stdout)
  end)

  it("whose connection closed at once, sent again, runs the command once, whole", function()
    -- The first sending's answer goes nowhere: the client learnt nothing, not even
    -- whether sbxd took it; the same start sent again gets the whole run.
    local cmd = "echo ran >> /tmp/keyed.2; sleep 0.5; echo out"
    local c = connect(ctx.server)
    c:send(request(ctx.server, "POST", ("/sandboxes/%s/processes?key=k3"):format(ctx.box.id), HEADERS,
      cjson.encode { cmd = cmd }))
    c:close()
    local res
    assert.is_true(helper.eventually(function()
      res = start("k3", cmd)
      return res.status ~= 503 -- 503: the init has not said yet that it started
    end, 5))
    assert.are.equal(200, res.status)
    assert.are.same({ "out\n", 0, cjson.null }, { res.s.out, res.s["end"].exit_code, res.s["end"].error })
    assert.are.equal("ran\n", ctx.box.commands:run("cat /tmp/keyed.2").stdout)
  end)

  it("names the process for a signal until its pid is known", function()
    local c = connect(ctx.server)
    c:send(request(ctx.server, "POST", ("/sandboxes/%s/processes?key=k4"):format(ctx.box.id), HEADERS,
      cjson.encode { cmd = "sleep 30.7201", background = true }))
    assert.are.equal(200, (read_head(c)))
    assert.is_truthy(read_chunk(c):find("event: start", 1, true))
    c:close() -- a background command runs on without a reader
    assert.are.same({ 200, { killed = true } }, { signal("?key=k4") })
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 30.7201") == 0 end, 5))
    assert.are.same({ 200, { killed = false } }, { signal("?key=k4") })
    assert.are.same({ 200, { killed = false } }, { signal("?key=nosuchkey") })
    -- a kill that overtook its start (on another connection): that start starts nothing
    local res = start("nosuchkey", "echo ran > /tmp/keyed.4")
    assert.are.equal(409, res.status)
    assert.are.equal("ConflictError", cjson.decode(res.body).error.kind)
    assert.are.equal("", ctx.box.commands:run("cat /tmp/keyed.4 2>/dev/null").stdout)
  end)

  it("that a SIGKILL by key reaches while it starts never runs on", function()
    -- The kill is sent right behind the start, on another connection: it reaches sbxd
    -- before the sandbox's init has said the command started, or after; either way the
    -- command must not outlive the answer "killed". Background: no reader's absence kills it.
    local started, killed = 0, 0
    for i = 1, 20 do
      local key = "k6_" .. i
      local c = connect(ctx.server)
      c:send(request(ctx.server, "POST", ("/sandboxes/%s/processes?key=%s"):format(ctx.box.id, key), HEADERS,
        cjson.encode { cmd = "sleep 30.7203", background = true }))
      local status, answer = signal("?key=" .. key)
      assert.are.equal(200, status)
      if answer.killed then killed = killed + 1 end
      if read_head(c) == 200 then started = started + 1 end
      c:close()
    end
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 30.7203") == 0 end, 5),
      ("%d started, %d said killed, %d still run"):format(started, killed, #helper.pgrep("sleep 30.7203")))
  end)

  it("refuses a bad key, a key given twice and any other query parameter (400)", function()
    local base = ("/sandboxes/%s/processes"):format(ctx.box.id)
    for _, query in ipairs { "?key=", "?key=a%20b", "?key=" .. ("x"):rep(33), "?key=a&key=b", "?offset=0",
      "?writer=k", "?key=a&x=1" } do
      for _, path in ipairs { base .. query, base .. "/signal" .. query } do
        local res = exchange(ctx.server, "POST", path, { "Content-Type: application/json" },
          path:find("/signal", 1, true) and '{"signal":"SIGKILL"}' or '{"cmd":"echo no >> /tmp/refused"}')
        assert.are.equal(400, res.status, path)
        assert.are.equal("InvalidArgumentError", cjson.decode(res.body).error.kind, path)
      end
    end
    assert.are.equal(400, (signal("")))
    assert.are.equal("", ctx.box.commands:run("cat /tmp/refused 2>/dev/null").stdout)
  end)
end)

describe("a foreground command whose reader goes", function()
  local ctx = helper.sandbox_per_block(setup, teardown, { args = { "--resume-grace", "1.5" } })

  it("waits for a reader: one within --resume-grace gets every byte and the end", function()
    local start = start_and_cut(ctx.server, ctx.box, "for i in 1 2 3 4 5; do echo $i; sleep 0.1; done")
    helper.sleep(0.4)
    local res = attach(ctx.server, ctx.box, start.pid, ("?serial=%d"):format(start.serial))
    assert.are.equal("1\n2\n3\n4\n5\n", res.s.out)
    assert.are.same({ exit_code = 0, signal = cjson.null, error = cjson.null }, res.s["end"])
  end)

  it("is not killed before --resume-grace, and is after it", function()
    local start = start_and_cut(ctx.server, ctx.box, "echo x; sleep 7.41")
    helper.sleep(0.5)
    assert.is_true(#helper.pgrep("sleep 7.41") >= 1, "killed before the grace")
    assert.is_true(helper.eventually(function() return #helper.pgrep("sleep 7.41") == 0 end, 5),
      "not killed after the grace")
    local res = attach(ctx.server, ctx.box, start.pid)
    assert.are.equal("x\n", res.s.out)
    assert.are.equal("reader gone", res.s["end"].error)
    assert.are.equal("SIGKILL", res.s["end"].signal)
  end)

  it("is released --resume-grace after its end went with no reader", function()
    -- Each attach is a reader: the release waits --resume-grace after the last one.
    local start = start_and_cut(ctx.server, ctx.box, "echo done", false, true)
    helper.sleep(0.5)
    local res = attach(ctx.server, ctx.box, start.pid)
    assert.are.equal("done\n", res.s.out)
    helper.sleep(2.5)
    assert.are.equal(404, attach(ctx.server, ctx.box, start.pid).status)
  end)
end)

describe("a slow reader", function()
  local ctx = helper.sandbox_per_block(setup, teardown)

  it("holds the pipes: the command waits, nothing is dropped, memory stays bounded", function()
    local before = helper.rss_kib(ctx.server.pid)
    local c = connect(ctx.server)
    c:send(request(ctx.server, "POST", "/sandboxes/" .. ctx.box.id .. "/processes",
      { "Accept: " .. FRAMES, "Content-Type: application/json" },
      cjson.encode { cmd = "head -c 40000000 /dev/zero; sleep 0.2; echo done 6.13 >&2" }))
    helper.sleep(1) -- not reading: the socket fills, then the log, then the pipe
    assert.is_true(#helper.pgrep("head -c 40000000") >= 1, "the command should wait for its reader")
    if MEASURES_RSS then
      local grew = helper.rss_kib(ctx.server.pid) - before
      assert.is_true(grew < 8 * 1024, ("sbxd grew by %d KiB"):format(grew))
    end
    local status, headers = read_head(c)
    assert.are.equal(200, status)
    local s = summary(events_of(read_body(c, headers), true))
    c:close()
    assert.are.equal(40000000, #s.out)
    assert.is_true(s.out == string.rep("\0", 40000000), "the bytes differ")
    assert.are.equal("done 6.13\n", s.err)
    assert.is_true(s.ids_ok)
    assert.are.equal(0, s["end"].exit_code)
  end)
end)
