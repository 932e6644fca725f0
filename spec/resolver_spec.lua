-- The Kubernetes form of the routing (deploy/kubernetes/nginx-configmap.sh): every sbxd
-- by a name that nginx resolves per request, creates to a name of several addresses
-- (--resolver, --any). Real nginx and real sbxd on loopback addresses (127.0.0.2, ...,
-- one port for all, as pods have); the names come from spec/dns_stub.py, which stands in
-- for the cluster DNS a spec cannot have.
local sbx = require "sbx"
local core = require "sbx.core"
local helper = require "helper"

local q = helper.q

local write_file = helper.write_file

local function node_of(id)
  return tonumber(id:match("^sbx_(%d+)_%x+$"))
end

describe("nginx with names resolved per request (the Kubernetes form)", function()
  local dir, dns_pid, port, key, url, nodes, nginx
  local names = {}

  -- The DNS's answers: name -> addresses, read again at every query.
  local function publish()
    local lines = {}
    for name, addrs in pairs(names) do lines[#lines + 1] = name .. " " .. table.concat(addrs, " ") end
    write_file(dir .. "/hosts", table.concat(lines, "\n") .. "\n")
  end

  local function start_node(n, addr)
    local args = { "--listen", ("%s:%d"):format(addr, port), "--node", tostring(n) }
    return helper.sbxd { key = key, args = args }
  end

  setup(function()
    dir = helper.sh("mktemp -d")
    key = core.random_hex(16)
    port = helper.free_port("127.0.0.2")
    names = { ["n0.test"] = { "127.0.0.2" }, ["n1.test"] = { "127.0.0.3" },
              ["ready.test"] = { "127.0.0.2", "127.0.0.3" } }
    publish()
    dns_pid = helper.sh(("python3 spec/dns_stub.py %s/hosts > %s/dns.out 2>&1 & echo $!")
      :format(q(dir), q(dir)))
    local dns_port = helper.wait_for(function()
      local f = io.open(dir .. "/dns.out")
      local line = f and f:read("l")
      if f then f:close() end
      return line and line:match("^ready (%d+)$")
    end, "the DNS stub")
    nodes = { [0] = start_node(0, "127.0.0.2"), start_node(1, "127.0.0.3") }
    local nginx_port = helper.free_port("127.0.0.1")
    helper.sh(("mkdir -p %s/tmp && deploy/nginx/sbx-nginx-conf.sh --listen 127.0.0.1:%d --prefix %s "
      .. "--workers 1 --resolver 127.0.0.1:%s --any ready.test:%d --node n0.test:%d --node n1.test:%d "
      .. "> %s/nginx.conf"):format(q(dir), nginx_port, q(dir), dns_port, port, port, port, q(dir)))
    nginx = helper.nginx(dir)
    nginx.start()
    url = "http://127.0.0.1:" .. nginx_port
    helper.wait_for(function()
      return helper.sh("curl -s -o /dev/null -w '%{http_code}' " .. url .. "/nodes") == "200"
    end, "nginx")
  end)

  teardown(function()
    if nginx then nginx.stop() end
    if dns_pid then helper.sh("kill " .. dns_pid) end
    for n = 0, 1 do if nodes and nodes[n] then nodes[n].stop() end end
    helper.sh("rm -rf " .. q(dir))
  end)

  it("spreads creates over the addresses of one name, and routes each id by its node's name", function()
    local opts = { url = url, api_key = key }
    local per_node, boxes = { [0] = 0, [1] = 0 }, {}
    for i = 1, 40 do
      boxes[i] = sbx.create(opts)
      local n = node_of(boxes[i].id)
      per_node[n] = per_node[n] + 1
    end
    assert.is_true(per_node[0] > 0 and per_node[1] > 0,
      ("node 0: %d, node 1: %d"):format(per_node[0], per_node[1]))
    for i = 1, 40, 3 do
      local box = sbx.connect(boxes[i].id, opts)
      assert.are.equal(boxes[i].id .. "\n", box.commands:run("echo " .. boxes[i].id).stdout)
    end
    assert.are.equal(40, #sbx.list(opts))
    for _, box in ipairs(boxes) do box:kill() end
  end)

  it("a node gone: its ids are 502 naming it, creates go to the other address; "
    .. "back at a new address, it is found there by its name", function()
    local opts = { url = url, api_key = key }
    local box
    repeat box = sbx.create(opts) until node_of(box.id) == 1
    helper.sh("kill -KILL " .. nodes[1].pid)
    helper.wait_for(function() return not helper.alive(nodes[1].pid) end, "node 1 to die")
    local err = helper.error_of(box.commands.run, box.commands, "echo hi")
    assert.are.same({ "SandboxError", 502, "sbxd node 1 is down" }, { err.kind, err.status, err.message })
    -- ready.test still names the dead node's address: a refused connection moves on
    for _ = 1, 10 do
      assert.are.equal(0, node_of(sbx.create(opts).id))
    end
    -- the node starts again elsewhere (a pod has a new address), and DNS says so
    nodes[1].stop()
    nodes[1] = start_node(1, "127.0.0.4")
    names["n1.test"] = { "127.0.0.4" }
    names["ready.test"] = { "127.0.0.2", "127.0.0.4" }
    publish()
    -- nginx holds an answer for its resolver's valid=5s: both names move within that
    -- (wait_for allows 10 s)
    local moved = helper.wait_for(function()
      local b = sbx.create(opts)
      if node_of(b.id) == 1 then return b end
    end, "a create on node 1 at its new address")
    local out = helper.wait_for(function()
      local ok, r = pcall(function() return sbx.connect(moved.id, opts).commands:run("echo there") end)
      return ok and r.stdout
    end, "node 1's id to reach its new address")
    assert.are.equal("there\n", out)
    -- the sandbox of the node's last life went with it
    err = helper.error_of(sbx.connect, box.id, opts)
    assert.are.same({ "NotFoundError", 404 }, { err.kind, err.status })
  end)
end)
