-- Many sbxd behind nginx (deploy/local/cluster.sh, deploy/nginx/sbx-nginx-conf.sh): real
-- nginx, real sbxd, the sbx client through the one URL.
local sbx = require "sbx"
local core = require "sbx.core"
local cjson = require "cjson"
local helper = require "helper"
local cluster = require "cluster"

--- The node number an id names: sbx_N_<hex>.
local function node_of(id)
  return tonumber(id:match("^sbx_(%d+)_%x+$"))
end

--- Status and body of a GET of `path` through curl (the way a user without sbx asks).
local function curl_get(c, path)
  local out = helper.sh(("curl -s -H 'Authorization: Bearer %s' -w '\\n%%{http_code}' '%s%s'"):format(
    c.key, c.url, path))
  local body, status = out:match("^(.*)\n(%d+)$")
  return tonumber(status), body
end

describe("sbxd --node", function()
  it("mints ids sbx_N_<16 hex>; without it sbx_<16 hex>", function()
    local s = helper.sbxd { args = { "--node", "37" } }
    finally(s.stop)
    local box = sbx.create { url = s.url, api_key = s.key }
    finally(function() box:kill() end)
    assert.is_truthy(box.id:match("^sbx_37_%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x$"), box.id)
    assert.are.equal("hi\n", box.commands:run("echo hi").stdout)
    local plain = helper.sbxd()
    finally(plain.stop)
    local other = sbx.create { url = plain.url, api_key = plain.key }
    finally(function() other:kill() end)
    assert.is_truthy(other.id:match("^sbx_%x+$") and #other.id == 20, other.id)
  end)

  it("refuses a node that is not a number from 0 to 9999", function()
    for _, bad in ipairs { "-1", "10000", "x", "", "1x", " 1" } do
      local out = helper.sh(("%s --listen 127.0.0.1:0 --api-key k --node '%s' 2>&1; echo rc=$?"):format(
        helper.SBXD, bad))
      local message = out:match("^(.-)usage") or out
      assert.are.equal("sbxd: --node must be a whole number from 0 to 9999\n", message, bad)
      assert.is_truthy(out:match("rc=2$"), out)
    end
  end)
end)

describe("four sbxd behind nginx", function()
  local c
  setup(function() c = cluster.start(4) end)
  teardown(function() if c then c.stop() end end)

  it("spreads 400 creates within 1.25x of even, and each id reaches its own node", function()
    local per_node, boxes = { [0] = 0, 0, 0, 0 }, {}
    for i = 1, 400 do
      local box = sbx.create(c.opts)
      boxes[i] = box
      local n = node_of(box.id)
      assert.is_truthy(n and per_node[n], box.id)
      per_node[n] = per_node[n] + 1
    end
    for n = 0, 3 do assert.is_true(per_node[n] <= 125, cjson.encode(per_node)) end
    -- each node lists exactly the ids that name it
    for n = 0, 3 do
      local status, body = curl_get(c, "/nodes/" .. n .. "/sandboxes")
      assert.are.equal(200, status)
      local listed = cjson.decode(body).sandboxes
      assert.are.equal(per_node[n], #listed)
      for _, info in ipairs(listed) do assert.are.equal(n, node_of(info.id)) end
    end
    -- a call for an id is answered by the sandbox it names (its own node)
    for i = 1, 400, 7 do
      local box = sbx.connect(boxes[i].id, c.opts)
      assert.are.equal(boxes[i].id, box:info().id)
      assert.are.equal(boxes[i].id .. "\n",
        box.commands:run("echo " .. boxes[i].id).stdout)
    end
    -- sbx.list asks every node and merges, oldest first
    local all = sbx.list(c.opts)
    assert.are.equal(400, #all)
    local seen = {}
    for i, info in ipairs(all) do
      seen[info.id] = true
      if i > 1 then assert.is_true(all[i - 1].started_at <= info.started_at) end
    end
    for _, box in ipairs(boxes) do assert.is_true(seen[box.id], box.id) end
    for _, box in ipairs(boxes) do box:kill() end
    assert.are.same({}, sbx.list(c.opts))
  end)

  it("answers a forged id 404 at once: a node it does not have, or an id its node never made", function()
    for _, id in ipairs { "sbx_7_00112233aabbccdd", "sbx_9999_00112233aabbccdd", "sbx_00112233aabbccdd",
                          "sbx_1_00112233aabbccdd" } do
      local err = helper.error_of(sbx.connect, id, c.opts)
      assert.are.same({ "NotFoundError", 404 }, { err.kind, err.status }, id)
    end
    local status, body = curl_get(c, "/sandboxes/sbx_12_00112233aabbccdd")
    assert.are.same({ 404, "NotFoundError" }, { status, cjson.decode(body).error.kind })
  end)

  it("lists through the proxy with a metadata filter", function()
    local a = sbx.create { url = c.url, api_key = c.key, metadata = { team = "a" } }
    local b = sbx.create { url = c.url, api_key = c.key, metadata = { team = "b" } }
    finally(function() a:kill(); b:kill() end)
    local listed = sbx.list { url = c.url, api_key = c.key, metadata = { team = "b" } }
    assert.are.same({ b.id }, { listed[1] and listed[1].id, listed[2] })
  end)

  it("stops the nodes it started when a start fails, and keeps their logs", function()
    local dir = assert(core.mkdtemp("/tmp/sbx-cluster-"))
    finally(function() helper.sh("rm -rf " .. helper.q(dir)) end)
    local out = helper.sh(("NGINX=/bin/false SBXD=%s deploy/local/cluster.sh start %s 2 2>&1; echo rc=$?")
      :format(helper.q(helper.SBXD), helper.q(dir .. "/c")))
    assert.is_truthy(out:find("nginx did not start", 1, true), out)
    assert.are.equal("1", out:match("rc=(%d+)$"))
    for i = 0, 1 do
      local pid = tonumber(helper.sh(("cat %s/c/node%d.pid"):format(helper.q(dir), i)))
      assert.is_truthy(pid, "no pid file for node " .. i)
      local stopped = helper.eventually(function() return not helper.alive(pid) end, 5)
      assert.is_true(stopped, "node " .. i .. " runs on")
      assert.are.equal("yes", helper.sh(("test -e %s/c/node%d.log && echo yes"):format(helper.q(dir), i)))
    end
  end)

  it("says where to list without sbx: GET /sandboxes is 421 with the nodes, GET /nodes lists them", function()
    local status, body = curl_get(c, "/sandboxes")
    local doc = cjson.decode(body)
    assert.are.same({ 421, "InvalidArgumentError", { "0", "1", "2", "3" } },
      { status, doc.error.kind, doc.nodes })
    status, body = curl_get(c, "/nodes")
    assert.are.same({ 200, { nodes = { "0", "1", "2", "3" } } }, { status, cjson.decode(body) })
  end)
end)

describe("a node SIGKILLed behind nginx", function()
  it("fails its ids' calls at once with SandboxError naming it; creates and lists go on", function()
    local c = cluster.start(3)
    finally(c.stop)
    local boxes = {}
    for i = 1, 6 do boxes[i] = sbx.create(c.opts) end
    local victim
    for _, box in ipairs(boxes) do
      if node_of(box.id) == 1 then victim = box break end
    end
    assert.is_truthy(victim, "no sandbox on node 1")
    c.kill(1)
    assert.is_true(helper.eventually(function() return not helper.alive(c.node_pid(1)) end, 5))
    for _ = 1, 3 do
      local t0 = core.now()
      local err = helper.error_of(victim.commands.run, victim.commands, "echo hi")
      local took = core.now() - t0
      assert.are.same({ "SandboxError", 502, "sbxd node 1 is down" }, { err.kind, err.status, err.message })
      -- nginx's connect timeout is 2 s: a refused connection is told at once, not waited
      -- out (a bound well under 2 s, so that a loaded machine's pauses do not count)
      assert.is_true(took < 1, ("took %.3f s"):format(took))
    end
    local err = helper.error_of(sbx.connect, victim.id, c.opts)
    assert.are.same({ "SandboxError", 502 }, { err.kind, err.status })
    for _ = 1, 10 do
      local box = sbx.create(c.opts)
      assert.are_not.equal(1, node_of(box.id))
      assert.are.equal("ok\n", box.commands:run("echo ok").stdout)
      boxes[#boxes + 1] = box
    end
    -- the list is of the nodes that are up: node 1's sandboxes went with it
    local on_victim = 0
    for _, box in ipairs(boxes) do
      if node_of(box.id) == 1 then on_victim = on_victim + 1 end
    end
    local listed = sbx.list(c.opts)
    assert.are.equal(#boxes - on_victim, #listed)
    for _, info in ipairs(listed) do assert.are_not.equal(1, node_of(info.id)) end
  end)

  it("fails a run and a session in flight on a node that dies, at once, saying so", function()
    -- the node's processes die with its sbxd: the client's attach after the cut gets the
    -- proxy's 502 and gives up then, not after its request timeout (30 s here)
    local c = cluster.start(3)
    finally(c.stop)
    local on = {}
    for _ = 1, 6 do
      local box = sbx.create(c.opts)
      on[node_of(box.id)] = on[node_of(box.id)] or box
    end
    assert.is_truthy(on[0] and on[1] and on[2], "creates did not reach every node")
    local CMD = "while :; do echo x; sleep 0.05; done"
    local killed_at
    local function killer(node)
      return function()
        if killed_at then return end
        c.kill(node)
        killed_at = core.now()
      end
    end
    local function took() return core.now() - killed_at end

    local err = helper.error_of(on[1].commands.run, on[1].commands, CMD, { on_stdout = killer(1) })
    assert.are.same({ "SandboxError", 502 }, { err.kind, err.status }, tostring(err))
    assert.is_truthy(err.message:find("sbxd node 1 is down", 1, true), err.message)
    assert.is_true(took() < 1, ("the run took %.2f s"):format(took()))

    killed_at = nil
    local s <close> = on[2].commands:spawn(CMD, { on_stdout = killer(2) })
    err = helper.error_of(s.wait, s)
    assert.are.same({ "SandboxError", 502 }, { err.kind, err.status }, tostring(err))
    assert.is_true(took() < 1, ("the session took %.2f s"):format(took()))
    -- node 0 and its sandbox went on
    assert.are.equal("ok\n", on[0].commands:run("echo ok").stdout)
  end)
end)
