-- sbxd answers every bad request with a JSON error and a status code, and keeps serving.
-- Raw requests go through sbx.core to a real sbxd.
local core = require "sbx.core"
local cjson = require "cjson"
local helper = require "helper"

local function request(server, method, path, body, headers)
  local op = core.request { method = method, url = server.url .. path,
    headers = headers or { "Authorization: Bearer " .. server.key }, body = body }
  local deadline = core.now() + 5
  while core.now() < deadline do
    for _, ev in ipairs(op:poll()) do
      if ev.type == "done" then op:close() return ev.status, ev.body end
      if ev.type == "error" then op:close() error(ev.message) end
    end
    core.step(0.05)
  end
  op:close()
  error("no answer")
end

local function error_of(status, body)
  local doc = cjson.decode(body)
  return status, doc.error.kind, doc.error.message
end

describe("sbxd", function()
  local server, box_id

  setup(function()
    server = helper.sbxd { args = { "--max-body", "65536" } }
    local status, body = request(server, "POST", "/sandboxes", "{}")
    assert.are.equal(201, status)
    box_id = cjson.decode(body).id
  end)

  teardown(function() server.stop() end)

  local procs = function() return "/sandboxes/" .. box_id .. "/processes" end

  local cases = {
    { "malformed JSON", "POST", "/sandboxes", "{", 400, "InvalidArgumentError" },
    { "a body that is not an object", "POST", "/sandboxes", "[1]", 400, "InvalidArgumentError" },
    { "an unknown field", "POST", "/sandboxes", '{"colour":1}', 400, "InvalidArgumentError", "colour" },
    { "a wrong type", "POST", "/sandboxes", '{"timeout":"x"}', 400, "InvalidArgumentError", "timeout" },
    { "a negative lifetime", "POST", "/sandboxes", '{"timeout":-1}', 400, "InvalidArgumentError", "timeout" },
    { "an env value that is not a string", "POST", "/sandboxes", '{"env":{"A":1}}', 400,
      "InvalidArgumentError", "env" },
    { "an unknown route", "GET", "/nowhere", nil, 404, "NotFoundError" },
    { "an unknown sandbox", "GET", "/sandboxes/sbx_ffffffffffffffff", nil, 404, "NotFoundError" },
    { "a wrong method", "PUT", "/sandboxes", "{}", 405, "InvalidArgumentError" },
    { "a start without cmd", "POST", procs, '{}', 400, "InvalidArgumentError", "cmd" },
    { "a start with an empty cmd", "POST", procs, '{"cmd":""}', 400, "InvalidArgumentError", "cmd" },
    { "a cmd with a NUL byte", "POST", procs, '{"cmd":"echo a\\u0000b"}', 400, "InvalidArgumentError",
      "malformed JSON: a string holds \\u0000: a command, a path, a name or an env entry cannot hold a "
      .. "NUL byte" },
    { "an env value with a NUL byte", "POST", "/sandboxes", '{"env":{"A":"x\\u0000"}}', 400,
      "InvalidArgumentError", "cannot hold a NUL byte" },
    { "stdin that is not base64", "POST", procs, '{"cmd":"true","stdin":"%%%"}', 400,
      "InvalidArgumentError", "stdin" },
    { "a start with a tag that is not a string", "POST", procs,
      '{"cmd":"true","tag":7}', 400, "InvalidArgumentError", "tag" },
    { "a start with a tag over 256 bytes", "POST", procs,
      '{"cmd":"true","tag":"' .. ("t"):rep(257) .. '"}', 400, "InvalidArgumentError", "'tag' is too long" },
    { "a start with an unknown field", "POST", procs,
      '{"cmd":"true","color":"red"}', 400, "InvalidArgumentError", "color" },
    { "a negative command timeout", "POST", procs, '{"cmd":"true","timeout":-1}', 400,
      "InvalidArgumentError", "timeout" },
    -- bytes that are not UTF-8 come as {"base64": "..."} (docs/PROTOCOL.md "Bytes in text fields")
    { "a cmd of bytes that is not base64", "POST", procs, '{"cmd":{"base64":"%%%"}}', 400,
      "InvalidArgumentError", "'cmd' is not valid base64" },
    { "a cmd of bytes with a NUL byte", "POST", procs, '{"cmd":{"base64":"YQBi"}}', 400,
      "InvalidArgumentError", "'cmd' cannot hold a NUL byte" },
    { "a cmd object with another field", "POST", procs, '{"cmd":{"base64":"YQ==","x":1}}', 400,
      "InvalidArgumentError", "'cmd' must be a string or {\"base64\": \"...\"}" },
    { "a cwd object without base64", "POST", procs, '{"cmd":"true","cwd":{}}', 400,
      "InvalidArgumentError", "'cwd' must be a string or {\"base64\": \"...\"}" },
    { "an env value of bytes that is not base64", "POST", "/sandboxes", '{"env":{"A":{"base64":7}}}', 400,
      "InvalidArgumentError", "'env' must be a string or {\"base64\": \"...\"}" },
    { "an env value of bytes with a NUL byte", "POST", procs, '{"cmd":"true","env":{"A":{"base64":"AA=="}}}',
      400, "InvalidArgumentError", "'env' cannot hold a NUL byte" },
    { "metadata of bytes (metadata is text)", "POST", "/sandboxes", '{"metadata":{"k":{"base64":"6Q=="}}}',
      400, "InvalidArgumentError", "'metadata' values must be strings" },
    { "a body over the limit", "POST", "/sandboxes", '{"metadata":{"k":"' .. ("x"):rep(70000) .. '"}}',
      413, "InvalidArgumentError" },
  }
  for _, c in ipairs(cases) do
    it("answers " .. c[1] .. " with " .. c[5], function()
      local path = type(c[3]) == "function" and c[3]() or c[3]
      local status, kind, message = error_of(request(server, c[2], path, c[4]))
      assert.are.equal(c[5], status)
      assert.are.equal(c[6], kind)
      assert.are.equal("string", type(message))
      if c[7] then assert.matches(c[7], message, 1, true) end
      -- and it keeps serving
      assert.are.equal(200, (request(server, "GET", "/sandboxes")))
    end)
  end

  it("takes a cmd, cwd and env values of bytes as base64, and lists them so", function()
    local b64 = core.b64encode
    local mkdir = cjson.encode { cmd = { base64 = b64("mkdir -p d\xe9") } }
    assert.are.equal(200, (request(server, "POST", procs(), mkdir)))
    local status, body = request(server, "POST", procs(), cjson.encode {
      cmd = { base64 = b64("printf '%s%s\\n' \"$V\" \"$(pwd)\"") },
      cwd = { base64 = b64("/home/user/d\xe9") },
      env = { V = { base64 = b64("\xfe\x80") }, W = "text" } })
    assert.are.equal(200, status, body)
    -- one write, so one output event: its data is the base64 of the bytes
    assert.matches("\ndata: " .. b64("\xfe\x80/home/user/d\xe9\n") .. "\n", body, 1, true)
    -- a running one's list entry: its cmd and cwd come back as base64 too
    local cmd = "sleep 30 #\xff"
    local running = core.request { method = "POST", url = server.url .. procs(), body = cjson.encode {
      cmd = { base64 = b64(cmd) }, cwd = { base64 = b64("/home/user/d\xe9") } },
      headers = { "Authorization: Bearer " .. server.key } }
    local listed
    for _ = 1, 100 do
      listed = cjson.decode(select(2, request(server, "GET", procs()))).processes[1]
      if listed then break end
    end
    running:close()
    assert.are.same({ base64 = b64(cmd) }, listed and listed.cmd)
    assert.are.same({ base64 = b64("/home/user/d\xe9") }, listed.cwd)
  end)

  it("runs a command with a zero timeout as one without a limit", function()
    local op = core.request { method = "POST", url = server.url .. procs(),
      headers = { "Authorization: Bearer " .. server.key, "Accept: text/event-stream" },
      body = '{"cmd":"sleep 0.1; echo ok","timeout":0}', sse = true, chunks = true }
    local seen, out = {}, ""
    local deadline = core.now() + 5
    while not seen.done and not seen.error and core.now() < deadline do
      core.step(0.05)
      for _, ev in ipairs(op:poll()) do
        seen[ev.event or ev.type] = ev
        if ev.event == "stdout" then out = out .. ev.data end
      end
    end
    op:close()
    assert.are.equal(200, seen.done and seen.done.status)
    assert.are.equal("ok\n", out)
    local ended = cjson.decode(seen["end"].data)
    assert.are.equal(0, ended.exit_code)
    assert.are.equal(cjson.null, ended.error)
  end)

  it("answers a missing or wrong key with 401", function()
    local status, kind = error_of(request(server, "GET", "/sandboxes", nil, {}))
    assert.are.equal(401, status)
    assert.are.equal("AuthenticationError", kind)
    status, kind = error_of(request(server, "GET", "/sandboxes", nil,
      { "Authorization: Bearer " .. server.key .. "x" }))
    assert.are.equal(401, status)
    assert.are.equal("AuthenticationError", kind)
  end)

  it("creates its unix socket 0600", function()
    local unix = helper.sbxd { tcp = false }
    local path = unix.url:match("^unix:(.+)$")
    assert.are.equal("srw-------", helper.sh("stat -c %A " .. path))
    unix.stop()
  end)

  it("refuses to listen on TCP without a key", function()
    local out = helper.sh(helper.SBXD .. " --listen 127.0.0.1:0 2>&1; echo status=$?")
    assert.matches("status=2$", out)
    assert.matches("api%-key", out)
  end)

  it("starts a silent command's stream (head, start event) while the command still runs", function()
    -- The head waits for output or the end only a moment: a command that says nothing
    -- still has its pid sent at once.
    local op = core.request { method = "POST", url = server.url .. procs(),
      headers = { "Authorization: Bearer " .. server.key, "Accept: text/event-stream" },
      body = cjson.encode { cmd = "sleep 30" }, sse = true }
    local seen = {}
    local deadline = core.now() + 5
    while not seen.start and core.now() < deadline do
      core.step(0.05)
      for _, ev in ipairs(op:poll()) do
        seen[ev.event or ev.type] = ev
      end
    end
    op:close()
    assert.are.equal(200, seen.head and seen.head.status)
    assert.matches('^{"pid":%d+,"keepalive":%d+,"serial":%d+,"from":0}$',
      seen.start and seen.start.data or "none")
    assert.is_nil(seen["end"])
    assert.is_nil(seen.done)
  end)

  it("sends the whole stream to a client that asks to close the connection after it", function()
    -- The end goes out as soon as the command is over, outside lws's WRITEABLE turn; a
    -- connection that is not kept alive must still get every byte, then close at once:
    -- the client's next request (sent right after) must get its own answer.
    local function stream(cmd, extra)
      local headers = { "Authorization: Bearer " .. server.key, "Accept: text/event-stream", extra }
      local op = core.request { method = "POST", url = server.url .. procs(), headers = headers,
        body = cjson.encode { cmd = cmd }, sse = true, chunks = true }
      local seen, data = {}, {}
      local deadline = core.now() + 5
      while not seen.done and not seen.error and core.now() < deadline do
        core.step(0.05)
        for _, ev in ipairs(op:poll()) do
          seen[ev.event or ev.type] = ev
          if ev.event then data[ev.event] = (data[ev.event] or "") .. ev.data end
        end
      end
      op:close()
      assert.is_nil(seen.error and seen.error.message)
      assert.are.equal(200, seen.done and seen.done.status)
      return data
    end
    for i = 1, 3 do
      local closing = stream(("echo close-%d; echo err >&2; exit 3"):format(i), "Connection: close")
      assert.are.equal(("close-%d\n"):format(i), closing.stdout)
      assert.are.equal("err\n", closing.stderr)
      assert.are.equal(3, cjson.decode(closing["end"]).exit_code)
      local kept = stream(("echo keep-%d"):format(i), "Connection: keep-alive")
      assert.are.equal(("keep-%d\n"):format(i), kept.stdout)
    end
  end)

  it("hands queued output events over in batches bounded by bytes", function()
    local op = core.request { method = "POST", url = server.url .. procs(),
      headers = { "Authorization: Bearer " .. server.key, "Accept: text/event-stream" },
      body = cjson.encode { cmd = "head -c 100000 /dev/zero" }, sse = true, collect = true,
      chunks = true }
    local deadline = core.now() + 5
    while not op:done() and core.now() < deadline do core.step(0.05) end
    assert.is_true(op:done())
    local first, left = op:poll(0, 32768)
    local bytes = 0
    for i, ev in ipairs(first) do
      if i < #first then bytes = bytes + #(ev.data or "") end
    end
    assert.is_true(bytes < 32768, "stopped once the data reached the bound")
    assert.is_true(left > 0, "the rest stays queued")
    local total = 0
    for _, ev in ipairs(first) do
      if ev.event == "stdout" then total = total + #ev.data end
    end
    for _, ev in ipairs(op:poll()) do
      if ev.event == "stdout" then total = total + #ev.data end
    end
    op:close()
    assert.are.equal(100000, total)
  end)

  it("hands a large output event over in parts, a bounded batch at a time", function()
    -- binary frames carry up to 1 MiB of output in one event: a poll bounded by bytes
    -- takes a piece of it (64 KiB at most) and leaves the rest queued
    local SIZE = 3000000
    local op = core.request { method = "POST", url = server.url .. procs(),
      headers = { "Authorization: Bearer " .. server.key, "Accept: application/vnd.sbx.frames" },
      body = cjson.encode { cmd = ("head -c %d /dev/zero"):format(SIZE) }, sse = true,
      collect = true, chunks = true }
    local deadline = core.now() + 10
    local saw_large = false
    local total, biggest, polls, last_id, left = 0, 0, 0, 0, 0
    repeat
      if left == 0 then core.step(0.05) end -- more to come (a paused transfer resumes)
      local evs
      evs, left = op:poll(0, 32768)
      polls = polls + 1
      local got = 0
      for _, ev in ipairs(evs) do
        if ev.event == "stdout" then
          got = got + #ev.data
          total = total + #ev.data
          if ev.id then
            saw_large = saw_large or tonumber(ev.id) - last_id > 65536
            assert.is_true(tonumber(ev.id) > last_id)
            last_id = tonumber(ev.id)
            assert.are.equal(total, last_id, "an id is the offset after the event's last piece")
          end
        end
      end
      biggest = math.max(biggest, got)
    until (op:done() and left == 0) or core.now() > deadline
    op:close()
    assert.are.equal(SIZE, total)
    assert.are.equal(SIZE, last_id)
    assert.is_true(biggest <= 65536, ("a poll took %d bytes"):format(biggest))
    assert.is_true(polls >= SIZE // 65536, ("%d polls"):format(polls))
    assert.is_true(saw_large, "an event of more than 64 KiB came")
  end)

  it("keeps queued output events whole when the collected output is taken first", function()
    local op = core.request { method = "POST", url = server.url .. procs(),
      headers = { "Authorization: Bearer " .. server.key, "Accept: text/event-stream" },
      body = cjson.encode { cmd = "seq 1 20000" }, sse = true, collect = true, chunks = true }
    local deadline = core.now() + 5
    while not op:done() and core.now() < deadline do core.step(0.05) end
    assert.is_true(op:done())
    local whole = op:output("stdout") -- the events still queued refer to these bytes
    local parts = {}
    for _, ev in ipairs(op:poll()) do
      if ev.event == "stdout" then parts[#parts + 1] = ev.data end
    end
    op:close()
    assert.is_true(#parts > 1)
    assert.are.equal(helper.sh("seq 1 20000") .. "\n", whole)
    assert.are.equal(whole, table.concat(parts))
  end)

  it("keeps output events whole when the collected output is taken in the middle of one", function()
    -- 48 KiB output events arrive in pieces (a step takes at most 32 KiB), each decoded
    -- into the collected output as it comes; taking that output after every step takes
    -- half-decoded events too. Both views must still hold every byte, in order.
    local op = core.request { method = "POST", url = server.url .. procs(),
      headers = { "Authorization: Bearer " .. server.key, "Accept: text/event-stream" },
      body = cjson.encode { cmd = "seq 1 100000" }, sse = true, collect = true, chunks = true }
    local taken, parts = {}, {}
    local deadline = core.now() + 10
    while core.now() < deadline do
      core.step(0.01)
      taken[#taken + 1] = op:output("stdout")
      for _, ev in ipairs(op:poll()) do
        if ev.event == "stdout" then parts[#parts + 1] = ev.data end
      end
      if op:done() and op:backlog() == 0 then break end
    end
    op:close()
    local want = helper.sh("seq 1 100000") .. "\n"
    assert.is_true(#taken > 4)
    assert.are.equal(#want, #table.concat(taken))
    assert.are.equal(want, table.concat(taken))
    assert.are.equal(want, table.concat(parts))
  end)

  it("counts a finished command's output as backlog only where it is copied", function()
    -- Past 64 KiB, output is collected in a block of the state's allocator that becomes
    -- its string where it is: the scheduler must not count it as work to do (docs/API.md,
    -- "What one step does at most"). Smaller output is copied into its string.
    local function finished(cmd)
      local op = core.request { method = "POST", url = server.url .. procs(),
        headers = { "Authorization: Bearer " .. server.key, "Accept: text/event-stream" },
        body = cjson.encode { cmd = cmd }, sse = true, collect = true }
      local deadline = core.now() + 10
      local ended
      while not (ended and op:done()) and core.now() < deadline do
        core.step(0.01)
        for _, ev in ipairs(op:poll()) do ended = ended or ev.event == "end" end
      end
      assert.is_true(ended and op:done())
      return op
    end
    local big, small = finished("head -c 200000 /dev/zero"), finished("printf 12345")
    assert.are.equal(0, big:backlog())
    assert.are.equal(5, small:backlog())
    assert.are.equal(("\0"):rep(200000), big:output("stdout"))
    assert.are.equal("12345", small:output("stdout"))
    assert.are.equal(0, small:backlog())
    big:close()
    small:close()
  end)

  it("prints one line per option for --help", function()
    local out = helper.sh(helper.SBXD .. " --help")
    for _, opt in ipairs { "--listen", "--api-key", "--root", "--parent-fd", "--ready-fd",
      "--max-body", "--keepalive", "--help" } do
      assert.matches("\n%s*" .. opt:gsub("%-", "%%-"), "\n" .. out)
    end
  end)
end)

describe("GET /health", function()
  it("is 200 without a key while sandboxes can be made; other methods still need the key", function()
    local server = helper.sbxd()
    finally(server.stop)
    local status, body = request(server, "GET", "/health", nil, {})
    assert.are.same({ 200, '{"ok":true}' }, { status, body })
    status, body = request(server, "GET", "/health", nil, { "Authorization: Bearer wrong" })
    assert.are.same({ 200, '{"ok":true}' }, { status, body })
    local refused = { 401, "AuthenticationError", "missing or wrong API key" }
    assert.are.same(refused, { error_of(request(server, "POST", "/health", "", {})) })
    assert.are.same({ 405, "InvalidArgumentError", "method not allowed" },
      { error_of(request(server, "DELETE", "/health")) })
    -- the key is still needed one path away
    assert.are.same(refused, { error_of(request(server, "GET", "/health/x", nil, {})) })
    assert.are.same(refused, { error_of(request(server, "GET", "/sandboxes", nil, {})) })
  end)

  it("is 503 SandboxError saying why when sandboxes cannot be isolated", function()
    local server = helper.sbxd { args = { "--bwrap", "/nonexistent/bwrap" } }
    finally(server.stop)
    assert.are.same({ 503, "SandboxError", "cannot isolate sandboxes: --bwrap is not an executable program" },
      { error_of(request(server, "GET", "/health", nil, {})) })
  end)

  it("is 200 with --isolation none", function()
    local server = helper.sbxd { args = { "--isolation", "none" } }
    finally(server.stop)
    assert.are.same({ 200, '{"ok":true}' }, { request(server, "GET", "/health", nil, {}) })
  end)
end)
