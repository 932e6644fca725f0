-- A TCP proxy (luv, in the spec's own process) that cuts connections mid-stream, for
-- fault injection only: a real sbxd or nginx does not drop a client's connection after a
-- random number of bytes, nor answers 503 on demand. The specs put it between the sbx
-- client and the server under test (sbxd, or nginx in front of several).
local uv = require "luv_once"
local sbx = require "sbx"

local M = {}

local Proxy = {}
Proxy.__index = Proxy

--- A proxy to 127.0.0.1:`port`. It cuts each connection after a random number of bytes
-- sent to the client (at least opts.least, default 4 KiB; at most opts.most) for as
-- long as it has made fewer cuts than p.limit (opts.cuts; the caller may raise it
-- later: a connection past its number then is cut within its next read, passing on at
-- least opts.kept bytes of it, default 0, and at most opts.kept_most, default all but
-- one: curl sends a request again by itself when a connection it reused dies before the
-- first line of the answer, and by itself only before its first byte). Later
-- connections pass through whole. opts.after_cut(p) is called after each cut. A
-- connection whose upstream refuses is reset, so the client sees what it would see of
-- the server itself. Returns the proxy: url, limit, cuts (made so far), connections
-- (accepted), resets (upstream refusals passed on), answer(response, n), close().
function M.start(port, opts)
  local p = setmetatable({
    port = port, limit = opts.cuts or 0, least = opts.least or 4096, most = opts.most or 65536,
    kept = opts.kept or 0, kept_most = opts.kept_most,
    after_cut = opts.after_cut, cuts = 0, connections = 0, resets = 0, handles = {}, canned = {},
  }, Proxy)
  local server = uv.new_tcp()
  p.handles[#p.handles + 1] = server
  assert(server:bind("127.0.0.1", 0))
  assert(server:listen(128, function() p:accept(server) end))
  p.url = "http://127.0.0.1:" .. server:getsockname().port
  return p
end

--- The next `n` connections get `response` (raw HTTP bytes) once their request's head
-- came, and are closed after it, before any upstream is asked: the answer of a proxy
-- whose upstream is down. (Requests without a body only: attaches.)
function Proxy:answer(response, n)
  for _ = 1, n do self.canned[#self.canned + 1] = response end
end

function Proxy:track(h)
  self.handles[#self.handles + 1] = h
  return h
end

--- Answers `response` to the request on `down` once its head came, then closes.
local function answer_canned(down, response)
  local head = ""
  down:read_start(function(_, data)
    if not data then
      if not down:is_closing() then down:close() end
      return
    end
    local answered = head:find("\r\n\r\n", 1, true)
    head = head .. data
    if answered or not head:find("\r\n\r\n", 1, true) then return end
    down:write(response, function()
      down:shutdown(function() if not down:is_closing() then down:close() end end)
    end)
  end)
end

--- Serves one accepted connection.
function Proxy:accept(server)
  local down = self:track(uv.new_tcp())
  server:accept(down)
  self.connections = self.connections + 1
  local canned = table.remove(self.canned, 1)
  if canned then return answer_canned(down, canned) end
  local up = self:track(uv.new_tcp())
  local budget = math.random(self.least, self.most)
  local sent, closed = 0, false
  local function close_both()
    if closed then return end
    closed = true
    if not down:is_closing() then down:close() end
    if not up:is_closing() then up:close() end
  end
  up:connect("127.0.0.1", self.port, function(err)
    if err then
      self.resets = self.resets + 1
      closed = true
      if not up:is_closing() then up:close() end
      if not down:is_closing() then down:close_reset() end
      return
    end
    down:read_start(function(_, data)
      if data and not closed then up:write(data) else close_both() end
    end)
    up:read_start(function(_, data)
      if closed then return end
      if not data then return close_both() end
      if sent + #data < budget or self.cuts >= self.limit then
        sent = sent + #data
        down:write(data)
        return
      end
      -- the cut: the bytes up to the budget (or, past it, some of this read), then the
      -- connection closes
      local most = math.min(self.kept_most or #data - 1, #data - 1)
      local keep = budget > sent and budget - sent or math.random(math.min(self.kept, most), most)
      self.cuts = self.cuts + 1
      up:read_stop()
      down:write(data:sub(1, keep), close_both)
      if self.after_cut then self.after_cut(self) end
    end)
  end)
end

function Proxy:close()
  for _, h in ipairs(self.handles) do
    if not h:is_closing() then h:close() end
  end
  uv.run("nowait")
end

--- Runs fn in a task while driving both loops (sbx's and the proxy's) until it ends or
-- `seconds` pass; `also` (optional) is called every turn. Returns what fn returned.
function M.drive(fn, seconds, also)
  local t = sbx.go(fn)
  local deadline = sbx.now() + seconds
  while t:status() == "running" and sbx.now() < deadline do
    sbx.step(0.001)
    uv.run("nowait")
    if also then also() end
  end
  assert(t:status() ~= "running", "the task hung")
  return t:wait()
end

return M
