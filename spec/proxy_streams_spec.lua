-- Streams and sessions through nginx in front of real sbxd (spec/cluster.lua): whole and
-- exact, and still so while nginx reloads and restarts and the client's connections are
-- cut. The cuts, and the 503/401 answers to an attach, come from spec/cutproxy.lua
-- between the client and nginx, for fault injection only: nginx does not drop a client's
-- connection after a random number of bytes, nor answers an attach on demand.
local sbx = require "sbx"
local helper = require "helper"
local cluster = require "cluster"
local cutproxy = require "cutproxy"
local wait = require "sbx.task"

local MIB = 1024 * 1024

local random_bytes = helper.random_bytes

-- A command that writes numbered 64-byte lines, 100 every 20 ms, until /tmp/stop exists:
-- its whole output is lines 0 to K-1 for some K, so a byte lost or sent twice shows.
local LINES = [[python3 -c '
import os, sys, time
out, i = sys.stdout.buffer, 0
while not os.path.exists("/tmp/stop"):
    out.write(b"".join(b"%08d %s\n" % (i + k, b"." * 54) for k in range(100)))
    out.flush()
    i += 100
    time.sleep(0.02)
']]
local LINE = 64

--- The output LINES makes when it writes `n` lines.
local function lines_of(n)
  local parts = {}
  for i = 0, n - 1 do parts[#parts + 1] = ("%08d %s\n"):format(i, ("."):rep(54)) end
  return table.concat(parts)
end

--- Whether `out` is the whole output of LINES, and of how many lines.
local function whole_lines(out)
  local n = #out // LINE
  return #out % LINE == 0 and n > 0 and out == lines_of(n), n
end

--- Polls cond() from a task until it holds; fails after `seconds`.
local function wait_until(cond, seconds, what)
  local deadline = sbx.now() + seconds
  while not cond() do
    assert(sbx.now() < deadline, "waited in vain for " .. what)
    wait.sleep(0.01)
  end
end

describe("streams through nginx", function()
  local c, box, random_sha
  setup(function()
    -- a reload's old workers close the streams they hold after 1 s: reloads cut too
    c = cluster.start(2, nil, "NGINX_SHUTDOWN_TIMEOUT=1s ")
    box = sbx.create(c.opts)
    box.commands:run("head -c 64M /dev/urandom > /tmp/random")
    random_sha = box.commands:run("sha256sum /tmp/random | cut -d' ' -f1").stdout:gsub("\n$", "")
  end)
  teardown(function()
    if box then box:kill() end
    if c then c.stop() end
  end)

  it("An SSE stream of 64 MiB and a WebSocket session pass through byte-exact", function()
    -- the client's stream (binary frames)
    local r = box.commands:run("cat /tmp/random")
    assert.are.same({ 64 * MIB, 0, "" }, { #r.stdout, r.exit_code, r.stderr })
    assert.are.equal(random_sha, helper.sha256(r.stdout))
    -- SSE proper, as curl reads it: the stdout events' base64, decoded
    local file = os.tmpname()
    local out = helper.sh(([[curl -sSN -o %s -w '%%{http_code} %%{content_type}' \
      -H 'Authorization: Bearer %s' -H 'Accept: text/event-stream' -H 'Content-Type: application/json' \
      --data '{"cmd":"cat /tmp/random"}' %s/sandboxes/%s/processes]]):format(file, c.key, c.url, box.id))
    local sse_sha = helper.sh(("awk '/^event: /{e=$2} /^data: /{if (e==\"stdout\") print substr($0, 7)}' %s"
      .. " | base64 -d | sha256sum | cut -d' ' -f1"):format(file))
    local ended = helper.sh(("grep -A1 '^event: end' %s | sed -n 's/^data: //p'"):format(file))
    os.remove(file)
    assert.are.equal("200 text/event-stream", out)
    assert.are.equal(random_sha, sse_sha)
    assert.are.equal('{"exit_code":0,"signal":null,"error":null}', ended)
    -- a session: stdin echoed back, then output of its own, then its exit code
    local input = random_bytes(2 * MIB)
    local s = box.commands:spawn("cat; head -c 8M /tmp/random; exit 7")
    s.stdin:write(input)
    s.stdin:close()
    local ended_s = s:wait()
    assert.are.equal(7, ended_s.exit_code)
    local got = ended_s.stdout
    assert.are.equal(2 * MIB + 8 * MIB, #got)
    assert.is_true(got:sub(1, #input) == input, "stdin did not come back as written")
    assert.are.equal(box.commands:run("head -c 8M /tmp/random | sha256sum | cut -d' ' -f1").stdout,
      helper.sha256(got:sub(#input + 1)) .. "\n")
    s:close()
  end)

  --- Starts LINES as a run and as a session through `url`, in tasks; the streams' byte
  -- counts go to `got` under "NAME run" and "NAME session".
  local function follow(url, name, got)
    local via = { url = url, api_key = c.key }
    local function count(key)
      got[key] = 0
      return function(chunk) got[key] = got[key] + #chunk end
    end
    local tasks = {}
    local run_count, session_count = count(name .. " run"), count(name .. " session")
    tasks[name .. " run"] = sbx.go(function()
      return sbx.connect(box.id, via).commands:run(LINES, { on_stdout = run_count })
    end)
    tasks[name .. " session"] = sbx.go(function()
      local s = sbx.connect(box.id, via).commands:spawn(LINES, { on_stdout = session_count })
      local result = s:wait()
      s:close()
      return result
    end)
    return tasks
  end

  it("20 nginx reloads and restarts plus 20 client drops mid-stream lose or duplicate 0 bytes", function()
    box.commands:run("rm -f /tmp/stop")
    local proxy = cutproxy.start(c.port, { cuts = 0, most = 64 * 1024 })
    finally(function() proxy:close() end)
    -- through the proxy (cut by it, and reset while nginx is down), and straight to nginx
    -- (refused while it is down)
    local got = {}
    local tasks = follow(proxy.url, "cut", got)
    for key, t in pairs(follow(c.url, "direct", got)) do tasks[key] = t end
    local ops = { reload = 0, restart = 0 }
    --- Waits until every stream got bytes beyond what it had.
    local function all_go_on(what)
      local before = {}
      for key, n in pairs(got) do before[key] = n end
      wait_until(function()
        for key, n in pairs(got) do
          if n <= before[key] then return false end
        end
        return true
      end, 20, "every stream to go on after " .. what)
    end
    local faults = sbx.go(function()
      all_go_on("its start")
      for i = 1, 20 do
        local action = i % 2 == 1 and "reload" or "restart"
        wait_until(c.begin(action), 20, "nginx to " .. action)
        ops[action] = ops[action] + 1
        all_go_on(action)
        proxy.limit = i
        wait_until(function() return proxy.cuts == i end, 20, "cut " .. i)
        all_go_on("cut " .. i)
      end
      box.commands:run("touch /tmp/stop")
    end)
    local results = cutproxy.drive(function()
      faults:wait()
      local results = {}
      for key, t in pairs(tasks) do results[key] = t:wait() end
      return results
    end, 50)
    assert.are.same({ reload = 10, restart = 10 }, ops)
    assert.are.equal(20, proxy.cuts)
    -- the cut streams' first connections, one at least after each cut and two after each
    -- restart (it cuts both)
    assert.is_true(proxy.connections >= 2 + 20 + 2 * 10, tostring(proxy.connections))
    for key, result in pairs(results) do
      local whole, n = whole_lines(result.stdout)
      assert.is_true(whole, key .. ": the output is not lines 0 to N-1, whole")
      assert.is_true(n >= 1000, key .. ": " .. n .. " lines")
      assert.are.same({ 0, "", #result.stdout }, { result.exit_code, result.stderr, got[key] }, key)
    end
  end)

  describe("an attach after a cut", function()
    local HEAD = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
      .. "Connection: close\r\n\r\n%s"
    local function answer(status, reason, kind)
      local body = ('{"error":{"kind":"%s","message":"injected"}}'):format(kind)
      return HEAD:format(status, reason, #body, body)
    end
    local UNAVAILABLE = answer(503, "Service Unavailable", "SandboxError")
    local GATEWAY_TIMEOUT = answer(504, "Gateway Timeout", "SandboxError")
    local UNAUTHORIZED = answer(401, "Unauthorized", "AuthenticationError")
    local CMD = "head -c 1M /tmp/random"

    --- A proxy that cuts once and answers the next attaches `answers` (each once).
    local function proxy_answering(answers)
      return cutproxy.start(c.port, { cuts = 1, least = 16 * 1024, most = 256 * 1024,
        after_cut = function(p) for _, a in ipairs(answers) do p:answer(a, 1) end end })
    end

    it("answered 503 and 504 goes on: a run and a session get every byte", function()
      local expected = box.commands:run(CMD).stdout
      for _, kind in ipairs { "run", "session" } do
        local proxy = proxy_answering { UNAVAILABLE, GATEWAY_TIMEOUT, UNAVAILABLE }
        local ok, r = pcall(cutproxy.drive, function()
          local via = sbx.connect(box.id, { url = proxy.url, api_key = c.key })
          if kind == "run" then return via.commands:run(CMD) end
          local s = via.commands:spawn(CMD)
          local result = s:wait()
          s:close()
          return result
        end, 20)
        proxy:close()
        assert(ok, r)
        assert.are.equal(1, proxy.cuts, kind)
        assert.are.equal(0, #proxy.canned, kind .. ": the answers were not all taken")
        assert.is_true(r.stdout == expected, kind .. ": the output differs")
      end
    end)

    --- Runs fn(via) with `via` connected through a proxy that cuts the answer of the
    -- call fn makes after its first line (and before its body: answers are longer than
    -- 100 bytes), then answers 503 and 504 once each; returns whether fn returned, what
    -- it returned or raised, and the proxy.
    local function cut_call(fn, id)
      local proxy = cutproxy.start(c.port, { cuts = 0, least = 20, most = 100, kept = 20,
        after_cut = function(p) p:answer(UNAVAILABLE, 1); p:answer(GATEWAY_TIMEOUT, 1) end })
      local ok, r = pcall(cutproxy.drive, function()
        local via = sbx.connect(id or box.id, { url = proxy.url, api_key = c.key })
        proxy.limit = 1
        return fn(via)
      end, 20)
      proxy:close()
      return ok, r, proxy
    end

    it("a stdin write cut after sbxd took it, then answered 503 and 504, is taken once", function()
      local data = random_bytes(2 * MIB) -- past what the pipe holds: the write waits for cat
      local h = box.commands:run("sleep 1; cat", { background = true })
      local ok, err, proxy = cut_call(function(via) via.commands:send_stdin(h.pid, data) end)
      assert(ok, err)
      assert.are.equal(1, proxy.cuts)
      assert.are.equal(0, #proxy.canned, "the answers were not all taken")
      h:close_stdin()
      local r = h:wait()
      assert.are.equal(#data, #r.stdout)
      assert.is_true(r.stdout == data, "the output is not the bytes once")
    end)

    it("a read, a pause and a resume cut in their answer, then answered 503 and 504, go on", function()
      local h = box.commands:run("sleep 30", { background = true })
      local calls = {
        info = function(via) return via:info().id == box.id end,
        list = function(via)
          for _, p in ipairs(via.commands:list()) do if p.pid == h.pid then return true end end
          return false
        end,
        pause = function(via) return via:pause() and box:info().state == "paused" end,
        resume = function(via) return via:resume() and box:info().state == "running" end,
        set_timeout = function(via) via:set_timeout(600); return true end,
      }
      for _, name in ipairs { "info", "list", "pause", "resume", "set_timeout" } do
        local ok, r, proxy = cut_call(calls[name])
        assert(ok, r)
        assert.is_true(r, name)
        assert.are.equal(1, proxy.cuts, name)
        assert.are.equal(0, #proxy.canned, name .. ": the answers were not all taken")
      end
      assert.is_true(h:kill())
    end)

    it("a start cut before its start event, then answered 503 and 504, runs its command once", function()
      -- The old client raised SandboxError here; without its key, the start sent again
      -- would have run the command twice.
      for i, background in ipairs { false, true } do
        local file = "/tmp/started." .. i
        local cmd = ("echo ran >> %s; printf out; sleep 0.3; printf err >&2"):format(file)
        local ok, r, proxy = cut_call(function(via)
          local run = via.commands:run(cmd, { background = background })
          if background then run = run:wait() end
          return run
        end)
        assert(ok, r)
        assert.are.equal(1, proxy.cuts)
        assert.are.equal(0, #proxy.canned, "the answers were not all taken")
        assert.are.same({ "out", "err", 0 }, { r.stdout, r.stderr, r.exit_code })
        assert.are.equal("ran\n", box.commands:run("cat " .. file).stdout,
          "background: " .. tostring(background))
      end
    end)

    --- sbx.create through a proxy to `port` that cuts the create's answer after its first
    -- line, then answers `answers` once each; returns whether it returned, what it returned
    -- or raised, and the proxy.
    local function cut_create(port, answers)
      local proxy = cutproxy.start(port, { cuts = 1, least = 20, most = 100,
        after_cut = function(p) for _, a in ipairs(answers) do p:answer(a, 1) end end })
      local ok, r = pcall(cutproxy.drive, function()
        return sbx.create { url = proxy.url, api_key = c.key }
      end, 20)
      proxy:close()
      return ok, r, proxy
    end

    it("a create cut in its answer is sent again and makes one sandbox, through nginx or not", function()
      -- Through nginx the create sent again may reach the other node, so the client first
      -- looks on every node for the sandbox its key made: here the first look is answered
      -- 503 and the create sent again 504, then the look finds it. To one sbxd, the look
      -- is answered 503 and the create sent again reaches sbxd, which answers with the
      -- sandbox its key made. (The old client raised "sbxd sent a body that is not JSON".)
      local node_port = tonumber(c.node_url(0):match(":(%d+)$"))
      for _, case in ipairs {
        { port = c.port, answers = { UNAVAILABLE, GATEWAY_TIMEOUT } },
        { port = node_port, answers = { UNAVAILABLE } },
      } do
        local before = {}
        for _, info in ipairs(sbx.list(c.opts)) do before[info.id] = true end
        local ok, made, proxy = cut_create(case.port, case.answers)
        assert(ok, made)
        assert.are.equal(1, proxy.cuts)
        assert.are.equal(0, #proxy.canned, "the answers were not all taken")
        local new = {}
        for _, info in ipairs(sbx.list(c.opts)) do
          if not before[info.id] then new[#new + 1] = info.id end
        end
        assert.are.same({ made.id }, new)
        local again = sbx.connect(made.id, c.opts)
        assert.are.equal("hi\n", again.commands:run("echo hi").stdout)
        assert.is_true(again:kill())
      end
    end)

    it("a create on a reused connection cut before its answer makes one sandbox through nginx", function()
      -- curl sends a request again by itself on a new connection when one it reused dies
      -- before the first byte of the answer; through nginx that sending may reach the
      -- other node, which does not know the create's key. A create goes on a connection
      -- of its own, so it is never so sent: the cut is the client's to see, and it looks
      -- for the sandbox its key made before sending again.
      local before = {}
      for _, info in ipairs(sbx.list(c.opts)) do before[info.id] = true end
      local proxy = cutproxy.start(c.port, { cuts = 0, least = 20, most = 100, kept_most = 0 })
      local ok, made = pcall(cutproxy.drive, function()
        local opts = { url = proxy.url, api_key = c.key }
        sbx.list(opts) -- a connection to reuse
        proxy.limit = 1
        return sbx.create(opts)
      end, 20)
      proxy:close()
      assert(ok, made)
      assert.are.equal(1, proxy.cuts)
      local new = {}
      for _, info in ipairs(sbx.list(c.opts)) do
        if not before[info.id] then new[#new + 1] = info.id end
      end
      assert.are.same({ made.id }, new)
      assert.is_true(sbx.connect(made.id, c.opts):kill())
    end)

    --- The length of the head of a session's upgrade answer (101) through port `port`.
    local function upgrade_head_length(port)
      local sock = require("socket").tcp()
      sock:settimeout(10)
      assert(sock:connect("127.0.0.1", port))
      assert(sock:send(table.concat({ ("GET %s HTTP/1.1"):format(box:path("/processes/ws")), "Host: sbxd",
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
        "Authorization: Bearer " .. c.key, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==",
        "Sec-WebSocket-Protocol: sbx.v1" }, "\r\n") .. "\r\n\r\n"))
      local head = ""
      repeat head = head .. assert(sock:receive(1)) until head:sub(-4) == "\r\n\r\n"
      sock:close()
      assert(head:match("^HTTP/1.1 101 "), head)
      return #head
    end

    --- A spawn whose first connection is cut after `cut_at` bytes of its answer, then
    -- answered 503 and 504: it runs its command once, and its output is whole.
    local function spawn_cut_at(cut_at, file)
      local proxy = cutproxy.start(c.port, { cuts = 0, least = cut_at, most = cut_at, kept = cut_at,
        after_cut = function(p) p:answer(UNAVAILABLE, 1); p:answer(GATEWAY_TIMEOUT, 1) end })
      local cmd = ("echo ran >> %s; printf out; sleep 0.3; printf err >&2"):format(file)
      local ok, r = pcall(cutproxy.drive, function()
        local via = sbx.connect(box.id, { url = proxy.url, api_key = c.key })
        proxy.limit = 1
        local s <close> = via.commands:spawn(cmd)
        return s:wait()
      end, 20)
      proxy:close()
      assert(ok, r)
      assert.are.equal(1, proxy.cuts)
      assert.are.equal(0, #proxy.canned, "the answers were not all taken")
      assert.are.same({ "out", "err", 0 }, { r.stdout, r.stderr, r.exit_code })
      assert.are.equal("ran\n", box.commands:run("cat " .. file).stdout)
    end

    it("a spawn cut before its start status, then answered 503 and 504, starts its process once", function()
      -- The old client raised SandboxError ("closed before the process started").
      spawn_cut_at(upgrade_head_length(c.port) + 3, "/tmp/spawned") -- inside the start status's frame
    end)

    it("a spawn cut in its upgrade's answer, then answered 503 and 504, starts its process once", function()
      -- The upgrade went out, its 101 was cut after 10 bytes: no start reached sbxd. The old
      -- client raised SandboxError ("cannot reach sbxd at ...").
      spawn_cut_at(10, "/tmp/spawned_early")
    end)

    it("a sandbox's kill cut in its answer, then answered 503 and 504, is sent again: true", function()
      -- sbxd killed it at the first sending; the one sent again is answered 404
      local victim = sbx.create(c.opts)
      local ok, r, proxy = cut_call(function(via) return via:kill() end, victim.id)
      assert(ok, r)
      assert.is_true(r)
      assert.are.equal(1, proxy.cuts)
      assert.are.equal(0, #proxy.canned, "the answers were not all taken")
      assert.are.equal("NotFoundError", helper.error_of(victim.info, victim).kind)
      -- a kill that is not cut still says false for a sandbox already gone
      assert.is_false(victim:kill())
    end)

    it("a process's kill cut in its answer, then answered 503 and 504, is sent again: true", function()
      -- sbxd killed it at the first sending and noted the call's key; the sending again
      -- is answered true by that key, not false for a process gone
      local h = box.commands:run("sleep 30", { background = true })
      local ok, r, proxy = cut_call(function(via) return via.commands:kill(h.pid) end)
      assert(ok, r)
      assert.is_true(r)
      assert.are.equal(1, proxy.cuts)
      assert.are.equal(0, #proxy.canned, "the answers were not all taken")
      local ended = helper.error_of(h.wait, h)
      assert.are.same({ 137, "signal: SIGKILL" }, { ended.result.exit_code, ended.result.error })
      -- a kill of its own, not cut, still says false for a process gone
      assert.is_false(box.commands:kill(h.pid))
    end)

    it("answered 401 fails at once, long before the request timeout", function()
      for _, kind in ipairs { "run", "session" } do
        local proxy = proxy_answering { UNAUTHORIZED }
        local t0
        local err = helper.error_of(cutproxy.drive, function()
          local via = sbx.connect(box.id, { url = proxy.url, api_key = c.key, request_timeout = 20 })
          t0 = sbx.now()
          if kind == "run" then return via.commands:run(CMD) end
          local s = via.commands:spawn(CMD)
          s:wait()
        end, 30)
        local took = sbx.now() - t0
        proxy:close()
        assert.are.equal("SandboxError", err and err.kind, tostring(err))
        assert.are.equal(401, err.status, kind)
        assert.is_true(took < 5, ("%s: took %.1f s"):format(kind, took))
      end
    end)
  end)
end)
