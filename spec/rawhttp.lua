--- HTTP/1.1 by hand over LuaSocket, for the specs that write requests byte by byte and read
-- answers as they come off the wire (a cut at a chosen point, a socket left unread, a
-- chunk at a time), which a normal client does not let one do.
local socket = require "socket"
local unix = require "socket.unix"

local M = {}

--- A connected socket to the server (its url: unix:PATH or http://IP:PORT), blocking,
-- each operation with `timeout` seconds (default 10).
function M.connect(server, timeout)
  local c
  local path = server.url:match("^unix:(.*)")
  if path then
    c = assert(unix.stream())
    c:settimeout(timeout or 10)
    assert(c:connect(path))
  else
    local host, port = server.url:match("^http://([%d.]+):(%d+)$")
    c = assert(socket.tcp())
    c:settimeout(timeout or 10)
    assert(c:connect(host, tonumber(port)))
  end
  return c
end

--- The status and headers (lower-case names) of the next answer; nil and the error when
-- there is none (the connection closed or timed out before a status line).
function M.read_head(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local status = assert(tonumber(line:match("^HTTP/1%.%d (%d%d%d)")), "not a status line: " .. line)
  local headers = {}
  while true do
    line = assert(c:receive("*l"))
    if line == "" then break end
    local k, v = line:match("^([^:]+):%s*(.*)$")
    headers[k:lower()] = v
  end
  return status, headers
end

--- One chunk of a chunked body; "" for the last one.
function M.read_chunk(c)
  local size = tonumber(assert(c:receive("*l")), 16)
  local data = size > 0 and assert(c:receive(size)) or ""
  assert(c:receive("*l") == "", "a chunk without its CRLF")
  return data
end

--- A whole body after its head: chunked, or of its Content-Length (none: empty).
function M.read_body(c, headers)
  if headers["transfer-encoding"] == "chunked" then
    local parts = {}
    repeat parts[#parts + 1] = M.read_chunk(c) until parts[#parts] == ""
    return table.concat(parts)
  end
  local n = tonumber(headers["content-length"] or 0)
  return n > 0 and assert(c:receive(n)) or ""
end

return M
