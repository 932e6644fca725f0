-- sbxd behind nginx speaking TLS (deploy/nginx/sbx-nginx-conf.sh --tls-cert/--tls-key, as
-- a TLS ingress does): https:// requests and wss:// sessions, with the server's
-- certificate checked. Real nginx, real sbxd, and certificates made here by openssl (a CA
-- of the spec's own, and a certificate for "localhost" and the address ::1 it signed). The client runs in a
-- process of its own (spec/tls_client.lua) whose SSL_CERT_FILE says what it trusts.
local helper = require "helper"

local q = helper.q

--- A CA, and a certificate for localhost and ::1 signed by it, in dir.
local function make_certificates(dir)
  local d = q(dir)
  helper.sh(("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sbx-spec-ca "
    .. "-keyout ca.key -out ca.pem 2>/dev/null && "
    .. "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
    .. "-out server.csr 2>/dev/null && "
    .. "printf 'subjectAltName=DNS:localhost,IP:::1\\n' > ext && "
    .. "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
    .. "-extfile ext -out server.pem 2>/dev/null"):format(d))
  assert(helper.read_file(dir .. "/server.pem"), "openssl made no certificate")
end

describe("sbxd behind nginx with TLS", function()
  local dir, node, url, nginx

  --- spec/tls_client.lua's lines, run with SSL_CERT_FILE=`ca` (nil: unset) against `base`.
  local function client(ca, base, restart)
    local env = helper.lua_env({ SSL_CERT_FILE = ca }, { "SSL_CERT_FILE" })
    local err_file = dir .. "/client.err"
    local out = helper.sh(("%s lua5.4 spec/tls_client.lua %s %s %s 2>%s")
      :format(env, q(base or url), q(node.key), restart and q(restart) or "", q(err_file)))
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    local f = assert(io.open(err_file, "rb"))
    local err = f:read("a")
    f:close()
    return lines, out, err
  end

  setup(function()
    dir = helper.sh("mktemp -d")
    make_certificates(dir)
    node = helper.sbxd { args = { "--node", "0" } }
    local port = helper.free_port()
    helper.sh(("mkdir -p %s/tmp && deploy/nginx/sbx-nginx-conf.sh --listen 127.0.0.1:%d "
      .. "--listen '[::1]:%d' --prefix %s --workers 1 --tls-cert %s/server.pem "
      .. "--tls-key %s/server.key --node %s > %s/nginx.conf")
      :format(q(dir), port, port, q(dir), q(dir), q(dir), node.url:match("^http://(.+)$"), q(dir)))
    -- each request's TLS server name (SNI) and URI, logged to sni.log ("-" for none)
    local logged = ('\n    log_format sni "$ssl_server_name $request_uri";\n    access_log %s/sni.log sni;\n')
      :format(dir)
    local conf = assert(helper.read_file(dir .. "/nginx.conf"))
    local logs
    conf, logs = conf:gsub("\n    access_log off;\n", logged, 1)
    assert(logs == 1, "no 'access_log off;' in the generated nginx.conf")
    helper.write_file(dir .. "/nginx.conf", conf)
    nginx = helper.nginx(dir)
    nginx.start()
    url = ("https://localhost:%d"):format(port)
    helper.wait_for(function()
      local probe = "curl -s --cacert %s/ca.pem -o /dev/null -w '%%{http_code}' %s/nodes"
      return helper.sh(probe:format(q(dir), url)) == "200"
    end, "nginx")
  end)

  teardown(function()
    if nginx then nginx.stop() end
    if node then node.stop() end
    helper.sh("rm -rf " .. q(dir))
  end)

  --- The TLS server names (SNI) the requests of a client run came with, by kind: "ws"
  -- for the WebSocket connections (lws's: the sessions and the bare one to /health),
  -- "http" for the others (curl's); "-" is none. Empties sni.log first.
  local function server_names(run)
    local log = dir .. "/sni.log"
    helper.sh(": > " .. q(log))
    run()
    local names = { ws = {}, http = {} }
    helper.wait_for(function() -- nginx logs a WebSocket connection when it closes
      local _, ws = helper.read_file(log):gsub("writer=", "")
      return ws >= 3
    end, "the WebSocket connections in sni.log")
    for name, uri in helper.read_file(log):gmatch("(%S+) (%S+)\n") do
      names[uri:find("writer=", 1, true) and "ws" or "http"][name] = true
    end
    return names
  end

  --- What the client's first four lines say when everything worked.
  local WORKED = {
    'run "a\\0b" "err\\n" 3', 'spawn "ping\\0\\n" "done\\n" 0', 'pty "got typed\\r\\n"', "create ok",
  }

  it("runs and spawns over https and wss when the client trusts the server's CA", function()
    local lines, out
    local names = server_names(function() lines, out = client(dir .. "/ca.pem") end)
    assert.are.same(WORKED, { lines[1], lines[2], lines[3], lines[4] }, out)
    assert.matches("^connect NotFoundError ", lines[5])
    assert.are.equal("list ok", lines[6])
    -- the bare WebSocket to /health: TLS up, then no upgrade (not a session's path)
    assert.matches("^wss error ", lines[7])
    assert.is_nil(lines[7]:find("certificate", 1, true), out)
    assert.are.same({ ws = { localhost = true }, http = { localhost = true } }, names)
  end)

  it("runs and spawns over https and wss at an IPv6 address its certificate names", function()
    local lines, out
    local names = server_names(function()
      lines, out = client(dir .. "/ca.pem", (url:gsub("localhost", "[::1]")))
    end)
    assert.are.same(WORKED, { lines[1], lines[2], lines[3], lines[4] }, out)
    assert.matches("^wss error ", lines[7])
    assert.is_nil(lines[7]:find("certificate", 1, true), out)
    -- an address is no server name: no SNI, from lws ("[" before) as from curl
    assert.are.same({ ws = { ["-"] = true }, http = { ["-"] = true } }, names)
  end)

  it("resumes a session over wss after nginx restarts under it", function()
    -- nginx stopped (its connections cut at once) and started again on the same port
    local restart = ("unset LD_PRELOAD; %s -s stop; while [ -e %s ]; do sleep 0.02; done; %s")
      :format(nginx.cmd, q(nginx.pid_file), nginx.cmd)
    local lines, out = client(dir .. "/ca.pem", nil, restart)
    assert.are.equal("create ok", lines[5], out)
    assert.are.equal('resumed "got before\\ntick\\ngot after\\n"', lines[4], out)
  end)

  local REFUSED = "wss error the server's TLS certificate could not be verified with the CA "
    .. "certificates trusted ($SSL_CERT_FILE, else the system's), or does not name the host"

  it("refuses a server whose certificate no CA it trusts signed, over https and wss", function()
    local lines, out, err = client(nil)
    assert.are.equal(4, #lines, out)
    assert.are.equal("", err) -- the errors say it all: nothing in the host's stderr
    -- at once, not sent again until the request timeout (a TimeoutError)
    for i, call in ipairs { "create", "connect", "list" } do
      assert.matches("^" .. call .. " SandboxError connection to sbxd at https://localhost:%d+ failed: "
        .. "SSL certificate problem: unable to get local issuer certificate$", lines[i])
    end
    assert.are.equal(REFUSED, lines[4])
  end)

  --- The client's lines at the URL with `host` for localhost, each call refused for a
  -- certificate that does not name `name`.
  local function assert_name_refused(host, name)
    local lines, out, err = client(dir .. "/ca.pem", (url:gsub("localhost", host)))
    assert.are.equal(4, #lines, out)
    assert.are.equal("", err)
    for i, call in ipairs { "create", "connect", "list" } do
      assert.matches("^" .. call .. " SandboxError .*SSL: no alternative certificate subject name matches "
        .. "target host name '" .. name:gsub("%p", "%%%0") .. "'$", lines[i])
    end
    assert.are.equal(REFUSED, lines[4])
  end

  it("refuses a certificate that does not name the host in the URL", function()
    assert_name_refused("127.0.0.1", "127.0.0.1")
  end)

  it("refuses a certificate that does not name the IPv6 address in the URL", function()
    -- ::ffff:127.0.0.1 reaches nginx's IPv4 listener; the certificate names ::1 only
    assert_name_refused("[::ffff:127.0.0.1]", "::ffff:127.0.0.1")
  end)
end)
