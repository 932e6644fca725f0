-- A client of sbxd behind TLS, run by spec/tls_spec.lua in a process of its own so that
-- its environment (SSL_CERT_FILE: which CA certificates it trusts) is the spec's choice.
-- arg[1]: the https URL, arg[2]: the API key, arg[3] (optional): a shell command that
-- restarts the proxy, run while a session is open. Prints one fact a line.
local sbx = require "sbx"
local core = require "sbx.core"

local url, key, restart = arg[1], arg[2], arg[3]

--- A string as Lua source, on one line.
local function show(s)
  return (("%q"):format(s):gsub("\\\n", "\\n"):gsub("\\13", "\\r"))
end

--- "kind message" of an sbx error, or "ok".
local function outcome(fn)
  local ok, err = pcall(fn)
  if ok then return "ok" end
  return ("%s %s"):format(type(err) == "table" and err.kind or "?", tostring(type(err) == "table"
    and err.message or err))
end

print("create " .. outcome(function()
  local box <close> = sbx.create { url = url, api_key = key }
  local r = box.commands:run("printf 'a\\0b'; echo err >&2; exit 3")
  print(("run %s %s %d"):format(show(r.stdout), show(r.stderr), r.exit_code))
  local s <close> = box.commands:spawn("cat; echo done >&2")
  s.stdin:write("ping\0\n")
  s.stdin:close()
  local res = s:wait()
  print(("spawn %s %s %d"):format(show(res.stdout), show(res.stderr), res.exit_code))
  local t <close> = box.commands:spawn("read x; echo \"got $x\"", { pty = { cols = 90, rows = 20 } })
  t.stdin:write("typed\n")
  print("pty " .. show(t:wait().stdout:match("got typed\r\n") or t.stdout))
  if restart then
    -- the connection is cut under the session; it attaches again over wss, from the
    -- last byte it had: "tick" comes through the new connection (or its replay), and
    -- stdin written once it is there goes out on it
    local c <close> = box.commands:spawn("read a; echo got $a; sleep 1; echo tick; read b; echo got $b")
    local function until_out(text)
      local deadline = core.now() + 10
      while c.stdout ~= text and core.now() < deadline do sbx.step(0.01) end
    end
    c.stdin:write("before\n")
    until_out("got before\n")
    os.execute(restart)
    until_out("got before\ntick\n")
    c.stdin:write("after\n")
    print("resumed " .. show(c:wait().stdout))
  end
end))

-- Calls sent again after a cut (connect's resume, a list's GET) are not sent again for a
-- certificate refused: they fail at once, as a create does, not when their request
-- timeout (20 s) ends ("SLOW"). (A sandbox of that id need not exist: a trusted server
-- answers 404.)
local function at_once(fn)
  local t0 = core.now()
  local said = outcome(fn)
  return (core.now() - t0 > 5 and "SLOW " or "") .. said
end
print("connect " .. at_once(function()
  sbx.connect("sbx_0_0000000000000000", { url = url, api_key = key, request_timeout = 20 })
end))
print("list " .. at_once(function() sbx.list { url = url, api_key = key, request_timeout = 20 } end))

-- A WebSocket over TLS on its own, as spawn makes it: the server's certificate is
-- checked against the CA certificates trusted, and against the name in the URL.
local hostport = url:match("^https://([^/]+)")
local address, port = hostport:match("^%[(.+)%]:(%d+)$") -- an IPv6 address
if not address then
  address, port = hostport:match("^([^:]+):(%d+)$")
  if address == "localhost" then address = "127.0.0.1" end
end
local s = core.session { address = address, port = tonumber(port), host = hostport, tls = true,
                         authorization = "Bearer " .. key, path = "/health" }
local seen
local deadline = core.now() + 10
while not seen and core.now() < deadline do
  core.step(0.05)
  for _, ev in ipairs(core.session_ops.poll(s)) do
    if ev.type == "error" or ev.type == "closed" or ev.type == "open" then
      seen = ev.type .. (ev.message and (" " .. ev.message) or "")
      break
    end
  end
end
print("wss " .. tostring(seen))
