-- Sandboxes: create, list, connect, info, kill, close; transport and auth failures.
local cjson = require "cjson"
local sbx = require "sbx"
local helper = require "helper"
local testing = require "sbx.testing"

describe("sandboxes", function()
  local server, opts

  setup(function()
    server = helper.sbxd()
    opts = { url = server.url, api_key = server.key }
  end)

  teardown(function() server.stop() end)

  it("creates a sandbox with an id, info and metadata", function()
    local box <close> = sbx.create { url = server.url, api_key = server.key,
      metadata = { owner = "spec", note = "a b" }, timeout = 60 }
    assert.matches("^sbx_%x+$", box.id)
    local info = box:info()
    assert.are.equal(box.id, info.id)
    assert.are.equal("running", info.state)
    assert.are.same({ owner = "spec", note = "a b" }, info.metadata)
    assert.is_true(type(info.started_at) == "number" and type(info.expires_at) == "number")
    assert.is_true(math.abs(info.expires_at - info.started_at - 60) < 1)
    assert.is_false(info.network)
  end)

  it("records network and returns it in info and list", function()
    local box <close> = sbx.create { url = server.url, api_key = server.key, network = true }
    assert.is_true(box:info().network)
    for _, info in ipairs(sbx.list { url = server.url, api_key = server.key }) do
      if info.id == box.id then assert.is_true(info.network) end
    end
  end)

  it("lists and connects to sandboxes", function()
    local a <close> = sbx.create(opts)
    local b <close> = sbx.create(opts)
    local ids = {}
    for _, info in ipairs(sbx.list(opts)) do ids[info.id] = info.state end
    assert.are.equal("running", ids[a.id])
    assert.are.equal("running", ids[b.id])
    local c = sbx.connect(a.id, opts)
    assert.are.equal(a.id, c.id)
    assert.are.equal("hi\n", c.commands:run("echo hi").stdout)
    c:close() -- connected, not created: close leaves the sandbox alive
    assert.are.equal(a.id, a:info().id)
  end)

  it("takes sandbox env values of bytes that are not UTF-8; refuses metadata that is not text", function()
    local b <close> = sbx.create { url = server.url, api_key = server.key, env = { B = "\xe9\xff" } }
    assert.are.equal(" e9 ff\n", b.commands:run("printf %s \"$B\" | od -An -tx1").stdout)
    local err = helper.error_of(sbx.create, { url = server.url, api_key = server.key,
      metadata = { k = "\xe9" } })
    assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
    assert.are.equal([[create: option 'metadata' must be UTF-8 text, not "k" = "\xe9"]], err.message)
  end)

  it("lists the sandboxes whose metadata has every key and value asked, filtered by sbxd", function()
    local a <close> = sbx.create { url = server.url, api_key = server.key,
      metadata = { team = "a b", n = "1" } }
    local b <close> = sbx.create { url = server.url, api_key = server.key, metadata = { team = "x&y=z?%" } }
    local function ids(filter)
      local out = {}
      for _, info in ipairs(sbx.list { url = server.url, api_key = server.key, metadata = filter }) do
        out[#out + 1] = info.id
      end
      return out
    end
    assert.are.same({ a.id }, ids { team = "a b" })
    assert.are.same({ a.id }, ids { team = "a b", n = "1" })
    assert.are.same({}, ids { team = "a b", n = "2" })
    assert.are.same({ b.id }, ids { team = "x&y=z?%" })
    assert.are.same({}, ids { nobody = "has" })
    local err = helper.error_of(sbx.list, { url = server.url, api_key = server.key, metadata = { 1 } })
    assert.are.equal("InvalidArgumentError", err.kind)
    -- sbxd itself refuses any other query parameter
    local out = helper.sh(("curl -s -w ' %%{http_code}' -H 'Authorization: Bearer %s' '%s/sandboxes?owner=x'")
      :format(server.key, server.url))
    assert.are.equal('{"error":{"kind":"InvalidArgumentError","message":"unknown query parameter '
      .. "'owner=x': the list takes metadata.KEY=VALUE and key=KEY\"}} 400", out)
    -- a name or value that is not UTF-8 would match nothing: refused, not dropped from the filter
    out = helper.sh(("curl -s -w ' %%{http_code}' -H 'Authorization: Bearer %s' "
      .. "'%s/sandboxes?metadata.team=%%FF'"):format(server.key, server.url))
    assert.are.equal('{"error":{"kind":"InvalidArgumentError","message":"metadata.team: a metadata name and '
      .. 'value are UTF-8"}} 400', out)
  end)

  it("makes one sandbox for one create key, and lists it by that key", function()
    local function curl(method, path, body)
      local out = helper.sh(("curl -s -X %s -w ' %%{http_code}' -H 'Authorization: Bearer %s' %s '%s%s'")
        :format(method, server.key, body and ("-d '%s'"):format(body) or "", server.url, path))
      local json, status = out:match("^(.*) (%d+)$")
      return cjson.decode(json), tonumber(status)
    end
    local before = #sbx.list(opts)
    local first, status = curl("POST", "/sandboxes?key=create-1", '{"metadata":{"n":"1"}}')
    assert.are.equal(201, status)
    -- the same create sent again (after a cut) makes nothing: the first one's sandbox, 200
    local again, status2 = curl("POST", "/sandboxes?key=create-1", '{"metadata":{"n":"1"}}')
    assert.are.same({ 200, first.id }, { status2, again.id })
    local other = curl("POST", "/sandboxes?key=create-2", "{}")
    assert.are_not.equal(first.id, other.id)
    assert.are.equal(before + 2, #sbx.list(opts))
    local listed = curl("GET", "/sandboxes?key=create-1")
    assert.are.same({ first.id }, { listed.sandboxes[1].id, listed.sandboxes[2] })
    assert.are.same({}, curl("GET", "/sandboxes?key=create-3").sandboxes)
    assert.are.same({}, curl("GET", "/sandboxes?key=create-1&metadata.n=2").sandboxes)
    assert.are.equal(1, #curl("GET", "/sandboxes?key=create-1&metadata.n=1").sandboxes)
    -- once its sandbox is gone, a key makes a new one
    sbx.connect(first.id, opts):kill()
    local third, status3 = curl("POST", "/sandboxes?key=create-1", "{}")
    assert.are_not.equal(first.id, third.id)
    assert.are.equal(201, status3)
    for _, id in ipairs { other.id, third.id } do sbx.connect(id, opts):kill() end
    -- keys as start keys are: one, of [0-9A-Za-z_-], at most 32; no other parameter
    for query, message in pairs {
      ["key=a.b"] = "'key' must be 1 to 32 of [0-9A-Za-z_-]",
      ["key="] = "'key' must be 1 to 32 of [0-9A-Za-z_-]",
      ["key=" .. ("k"):rep(33)] = "'key' must be 1 to 32 of [0-9A-Za-z_-]",
      ["key=a&key=b"] = "query parameter 'key' given twice",
      ["owner=x"] = "this route takes only key (the call's key) in its query",
    } do
      local doc, code = curl("POST", "/sandboxes?" .. query, "{}")
      assert.are.same({ 400, "InvalidArgumentError", message }, { code, doc.error.kind, doc.error.message })
    end
    assert.are.equal(before, #sbx.list(opts))
  end)

  it("raises NotFoundError for an unknown sandbox", function()
    local err = helper.error_of(sbx.connect, "sbx_0000000000000000", opts)
    assert.are.equal("NotFoundError", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("NotFoundError: " .. err.message, tostring(err))
  end)

  it("raises NotFoundError after kill, and kill then returns false", function()
    local box = sbx.create(opts)
    assert.is_true(box:kill())
    assert.are.equal("NotFoundError", helper.error_of(box.info, box).kind)
    assert.are.equal("NotFoundError", helper.error_of(box.commands.run, box.commands, "true").kind)
    assert.is_false(box:kill())
    box:close()
  end)

  it("kills the sandbox at the end of a <close> scope", function()
    local id
    do
      local box <close> = sbx.create(opts)
      id = box.id
    end
    assert.are.equal("NotFoundError", helper.error_of(sbx.connect, id, opts).kind)
  end)

  it("closes twice without complaint, and refuses calls on a closed sandbox", function()
    local box = sbx.create(opts)
    box:close()
    box:close()
    local err = helper.error_of(box.commands.run, box.commands, "true")
    assert.are.equal("InvalidArgumentError", err.kind)
  end)

  it("ends the sandbox when its lifetime runs out", function()
    local box = sbx.create { url = server.url, api_key = server.key, timeout = 0.3 }
    assert.is_true(helper.eventually(function()
      return helper.error_of(box.info, box) ~= nil
    end, 3))
    assert.are.equal("NotFoundError", helper.error_of(box.info, box).kind)
  end)

  it("extends the lifetime with set_timeout", function()
    local box <close> = sbx.create { url = server.url, api_key = server.key, timeout = 5 }
    box:set_timeout(100)
    local info = box:info()
    assert.is_true(info.expires_at - os.time() > 90)
    assert.are.equal("InvalidArgumentError", helper.error_of(box.set_timeout, box, -1).kind)
  end)

  it("raises AuthenticationError for a wrong key over TCP", function()
    local err = helper.error_of(sbx.create, { url = server.url, api_key = "wrong" })
    assert.are.equal("AuthenticationError", err.kind)
    assert.are.equal(401, err.status)
    err = helper.error_of(sbx.list, { url = server.url, api_key = "" })
    assert.are.equal("AuthenticationError", err.kind)
  end)

  it("raises SandboxError, never hangs, when sbxd is gone", function()
    local other = helper.sbxd()
    local box = sbx.create { url = other.url, api_key = other.key }
    testing.kill(other.daemon, 9)
    assert.is_true(helper.eventually(function() return not helper.alive(other.pid) end, 2))
    local err = helper.error_of(box.commands.run, box.commands, "echo hi")
    assert.are.equal("SandboxError", err.kind)
    assert.are.equal("SandboxError", helper.error_of(box.info, box).kind)
    -- close takes no argument: none makes it quiet about the kill it could not make
    assert.are.equal("SandboxError", helper.error_of(box.close, box, true).kind)
    other.stop()
  end)

  it("reconnects when sbxd is replaced at the same socket between two requests", function()
    -- The kept-alive connection to the first sbxd dies while nothing steps the loop; the
    -- next request finds it dead, closes it and connects anew, most likely on the same
    -- fd number. A watcher of the old fd left registered would miss that socket's events:
    -- the request would hang, here until its request_timeout.
    local core = require "sbx.core"
    local dir = assert(core.mkdtemp("/tmp/sbx-spec-"))
    local url, key = "unix:" .. dir .. "/sbxd.sock", core.random_hex(16)
    local function start()
      local d, line = core.spawn_daemon(helper.SBXD, { "--listen", url, "--api-key", key, "--quiet" }, 10)
      assert(d, line)
      return d
    end
    local first = start()
    local a = sbx.create { url = url, api_key = key, request_timeout = 5 }
    assert.are.equal("a\n", a.commands:run("echo a").stdout)
    first:stop()
    local second = start()
    local b = sbx.create { url = url, api_key = key, request_timeout = 5 }
    assert.are.equal("b\n", b.commands:run("echo b").stdout)
    assert.are.equal("c\n", b.commands:run("echo c").stdout)
    b:close()
    second:stop()
    os.remove(dir .. "/sbxd.sock")
    os.remove(dir)
  end)

  it("raises SandboxError when sbxd dies in the middle of a stream", function()
    local other = helper.sbxd()
    local box = sbx.create { url = other.url, api_key = other.key }
    os.execute(("(sleep 0.3; kill -9 %d) &"):format(other.pid))
    local err = helper.error_of(box.commands.run, box.commands, "echo started; sleep 10")
    assert.are.equal("SandboxError", err and err.kind, tostring(err))
    other.stop()
  end)

  it("validates create, connect and list arguments", function()
    local cases = {
      { sbx.create, { 1 }, "create" }, { sbx.create, { { timeout = -1 } }, "timeout" },
      { sbx.create, { { timeout = 0 } }, "timeout" },
      { sbx.create, { { env = { A = 1 } } }, "env" }, { sbx.create, { { metadata = 3 } }, "metadata" },
      { sbx.create, { { network = "yes" } }, "network" }, { sbx.create, { { bogus = 1 } }, "bogus" },
      { sbx.create, { { url = "ftp://x" } }, "url" },
      { sbx.create, { { metadata = { k = "a\0b" } } }, "'metadata' has a NUL byte in the value of \"k\"" },
      { sbx.create, { { env = { A = "\0" } } }, "'env' has a NUL byte in the value of \"A\"" },
      { sbx.create, { { api_key = "k\0" } }, "api_key' must not hold a NUL byte" },
      { sbx.connect, { nil }, "id" }, { sbx.connect, { "../x" }, "id" },
      { sbx.connect, { "sbx_1", { timeout = 1 } }, "timeout" }, { sbx.list, { { env = {} } }, "env" },
    }
    for _, case in ipairs(cases) do
      local err = helper.error_of(case[1], table.unpack(case[2], 1, 2))
      assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
      assert.matches(case[3], err.message, 1, true)
    end
  end)
end)

describe("sbx.errors", function()
  it("has every kind and respects the hierarchy", function()
    local errors = sbx.errors
    for _, kind in ipairs { "TimeoutError", "SandboxTimeoutError", "NotFoundError",
      "ConflictError", "SandboxError", "CommandExitError", "AuthenticationError",
      "InvalidArgumentError", "CancelledError" } do
      local err = errors.new(kind, "m", { status = 418 })
      assert.are.equal(kind, err.kind)
      assert.are.equal(418, err.status)
      assert.are.equal(kind .. ": m", tostring(err))
      assert.is_true(errors.is(err, kind))
      assert.is_true(errors.is(err, "SbxError"))
    end
    local e = errors.new("SandboxTimeoutError", "x")
    assert.is_true(errors.is(e, "TimeoutError"))
    assert.is_false(errors.is(errors.new("TimeoutError", "x"), "SandboxTimeoutError"))
    assert.is_false(errors.is(e, "NotFoundError"))
    assert.is_false(errors.is("TimeoutError: x", "TimeoutError"))
    assert.is_false(errors.is({ kind = "TimeoutError" }, "TimeoutError"))
    -- a kind that is none (a misspelt name) is refused, not false for ever
    for _, call in ipairs { function() return errors.is(e, "TimeOutError") end,
      function() return errors.new("Timeout", "m") end, function() return errors.is(e) end } do
      local err = helper.error_of(call)
      assert.are.equal("InvalidArgumentError", err and err.kind, tostring(err))
      assert.matches("unknown kind .* %(the kinds: AuthenticationError, ", err.message)
    end
  end)
end)
