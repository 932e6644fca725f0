--- A raw WebSocket client (RFC 6455) over LuaSocket, for the specs only: it writes frames
-- byte by byte, so a spec can send what a real client never would (an unknown channel,
-- an empty or text or oversize message, a handshake without its subprotocol or with a
-- bad key), cut a connection where it likes and leave pings unanswered. Client frames
-- are masked, as RFC 6455 requires.
local rawhttp = require "rawhttp"

local M = {}

local OP = { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 }
M.OP = OP

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local chars = {}
    for k = 3, 0, -1 do
      local v = (n >> (6 * k)) & 63
      chars[#chars + 1] = B64:sub(v + 1, v + 1)
    end
    if not b then chars[3], chars[4] = "=", "=" elseif not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end
M.b64 = b64

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

--- A connected socket to the server (TCP or unix), blocking with a timeout.
M.connect = rawhttp.connect

local function read_head(c) return assert(rawhttp.read_head(c)) end

--- The upgrade request. opts: key (API key; false: none), ws_key (Sec-WebSocket-Key;
-- false: none), protocol (false: no Sec-WebSocket-Protocol), version, headers (more
-- lines), timeout. Returns a session table on 101; else nil, status, body, headers.
function M.open(server, path, opts)
  opts = opts or {}
  local c = M.connect(server, opts.timeout)
  local lines = { ("GET %s HTTP/1.1"):format(path), "Host: sbxd", "Upgrade: websocket",
    "Connection: Upgrade", "Sec-WebSocket-Version: " .. (opts.version or "13") }
  local key = opts.key == nil and server.key or opts.key
  if key then lines[#lines + 1] = "Authorization: Bearer " .. key end
  local ws_key = opts.ws_key == nil and b64(random_bytes(16)) or opts.ws_key
  if ws_key then lines[#lines + 1] = "Sec-WebSocket-Key: " .. ws_key end
  local protocol = opts.protocol == nil and "sbx.v1" or opts.protocol
  if protocol then lines[#lines + 1] = "Sec-WebSocket-Protocol: " .. protocol end
  for _, h in ipairs(opts.headers or {}) do lines[#lines + 1] = h end
  assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n"))
  local status, headers = read_head(c)
  if status ~= 101 then
    local n = tonumber(headers["content-length"] or 0)
    local body = n > 0 and assert(c:receive(n)) or ""
    c:close()
    return nil, status, body, headers
  end
  return setmetatable({ sock = c, headers = headers }, { __index = M })
end

--- XOR of `data` with a 4-byte key, 8 bytes at a time.
local function mask(data, key)
  local k4 = string.unpack("<I4", key)
  local k8 = k4 | (k4 << 32)
  local out, n = {}, #data
  local whole = n - n % 8
  for i = 1, whole, 8 do out[#out + 1] = string.pack("<i8", string.unpack("<i8", data, i) ~ k8) end
  for i = whole + 1, n do
    out[#out + 1] = string.char(data:byte(i) ~ key:byte((i - 1) % 4 + 1))
  end
  return table.concat(out)
end

--- One frame's bytes: opcode, payload, fin (default true), masked with a random key.
-- `length` overrides the length field (a lie about the size).
function M.encode(opcode, payload, fin, length)
  payload = payload or ""
  local len = length or #payload
  local head = string.char((fin == false and 0 or 0x80) | opcode)
  if len < 126 then
    head = head .. string.char(0x80 | len)
  elseif len < 65536 then
    head = head .. string.char(0x80 | 126) .. string.pack(">I2", len)
  else
    head = head .. string.char(0x80 | 127) .. string.pack(">I8", len)
  end
  local key = random_bytes(4)
  return head .. key .. mask(payload, key)
end

--- Sends one frame (as M.encode makes it).
function M:frame(opcode, payload, fin, length)
  return self.sock:send(M.encode(opcode, payload, fin, length))
end

--- Sends a binary message: a channel byte, then the payload.
function M:send(channel, payload)
  return self:frame(OP.binary, string.char(channel) .. (payload or ""))
end

--- Receives one frame: opcode, payload, fin; nil and an error when the socket fails.
function M:recv_frame()
  local h, err = self.sock:receive(2)
  if not h then return nil, err end
  local b1, b2 = h:byte(1, 2)
  local len = b2 & 0x7f
  if len == 126 then len = string.unpack(">I2", assert(self.sock:receive(2)))
  elseif len == 127 then len = string.unpack(">I8", assert(self.sock:receive(8))) end
  assert(b2 & 0x80 == 0, "a server frame is never masked")
  local payload = ""
  if len > 0 then
    payload, err = self.sock:receive(len)
    if not payload then return nil, err end
  end
  return b1 & 0x0f, payload, b1 & 0x80 ~= 0
end

--- The next message: {channel=, data=} for a binary one, {close=true, code=, reason=}
-- for a close, {text=} for a text one; nil and an error when the connection fails.
-- Pings are answered (unless self.deaf) and counted in self.pings.
function M:recv()
  local parts, first = {}, nil
  while true do
    local op, payload, fin = self:recv_frame()
    if not op then return nil, payload end
    if op == OP.ping then
      self.pings = (self.pings or 0) + 1
      if not self.deaf then self:frame(OP.pong, payload) end
    elseif op == OP.close then
      local code = #payload >= 2 and string.unpack(">I2", payload) or nil
      return { close = true, code = code, reason = payload:sub(3) }
    elseif op ~= OP.pong then
      first = first or op
      parts[#parts + 1] = payload
      if fin then
        local data = table.concat(parts)
        if first == OP.text then return { text = data } end
        return { channel = data:byte(1), data = data:sub(2) }
      end
    end
  end
end

--- Sends a close frame (code, reason).
function M:close_frame(code, reason)
  return self:frame(OP.close, string.pack(">I2", code or 1000) .. (reason or ""))
end

function M:close()
  self.sock:close()
end

return M
