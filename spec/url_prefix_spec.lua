-- sbxd behind a reverse proxy under a path (https://tools.example/sbx/ in front of the
-- sbxd at /): the client's url carries the path, and every request, streams and sessions
-- included, goes under it. Real nginx, real sbxd.
local sbx = require "sbx"
local helper = require "helper"

local q = helper.q

describe("a url with a path (sbxd behind a proxy under it)", function()
  local dir, server, nginx, opts

  setup(function()
    dir = helper.sh("mktemp -d")
    server = helper.sbxd()
    local port = helper.free_port()
    helper.write_file(dir .. "/nginx.conf", ([[
worker_processes 1;
pid %s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %s/tmp;
    proxy_temp_path %s/tmp;
    server {
        listen 127.0.0.1:%d;
        location /under/sbx/ {
            proxy_pass %s/;
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $http_connection;
        }
    }
}
]]):format(dir, dir, dir, port, server.url))
    helper.sh("mkdir -p " .. q(dir .. "/tmp"))
    nginx = helper.nginx(dir)
    nginx.start()
    opts = { url = ("http://127.0.0.1:%d/under/sbx/"):format(port), api_key = server.key }
    helper.wait_for(function()
      return helper.sh(("curl -s -o /dev/null -w '%%{http_code}' %shealth"):format(opts.url)) == "200"
    end, "nginx")
  end)

  teardown(function()
    if nginx then nginx.stop() end
    if server then server.stop() end
    helper.sh("rm -rf " .. q(dir))
  end)

  it("runs, streams, spawns and lists under the path", function()
    local box <close> = sbx.create(opts)
    local r = box.commands:run("printf 'a\\0b'; echo err >&2; exit 3")
    assert.are.same({ "a\0b", "err\n", 3 }, { r.stdout, r.stderr, r.exit_code })
    local chunks = {}
    box.commands:run("echo one; echo two",
      { lines = true, on_stdout = function(l) chunks[#chunks + 1] = l end })
    assert.are.same({ "one\n", "two\n" }, chunks)
    local s <close> = box.commands:spawn("cat; echo done")
    s.stdin:write("typed\n")
    s.stdin:close()
    assert.are.same({ 0, "typed\ndone\n" }, { s:wait().exit_code, s.stdout })
    local h = box.commands:run("echo bg", { background = true })
    assert.are.equal("bg\n", box.commands:connect(h.pid):wait().stdout)
    local found = false
    for _, info in ipairs(sbx.list(opts)) do found = found or info.id == box.id end
    assert.is_true(found, "the list under the path lacks the sandbox")
  end)

  it("gets sbxd's own 404 for an id that is not there, under the path", function()
    local err = helper.error_of(sbx.connect, "sbx_0123456789abcdef", opts)
    assert.are.equal("NotFoundError", err and err.kind, tostring(err))
  end)
end)
