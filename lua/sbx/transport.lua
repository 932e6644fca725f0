--- HTTP to sbxd: one Client per (url, key); JSON calls and process streams (frames or
-- SSE) over the core.
local core = require "sbx.core"
local cjson = require "cjson"
local errors = require "sbx.errors"
local wait = require "sbx.task"
local embedded = require "sbx.embedded"

local M = {}

local Client = {}
Client.__index = Client

local URL_FORM = "http(s)://HOST[:PORT][/PATH] or unix:/PATH"

--- Why the authority of an http(s) URL (HOST[:PORT]) is not one, or nil. HOST is a name,
-- an IPv4 address or an IPv6 one in brackets.
local function bad_authority(authority)
  local host, port = authority:match("^(%[[%x:%.]+%])(.*)$")
  if not host then host, port = authority:match("^([%w%.%-_]+)(.*)$") end
  if not host then return "must be " .. URL_FORM end
  if port == "" then return nil end
  local n = tonumber(port:match("^:(%d+)$"))
  if not n then return "must be " .. URL_FORM end
  if n < 1 or n > 65535 then return "has a port outside 1..65535" end
end

--- Splits "unix:/path" or "http(s)://host:port[/path]" into the base URL of requests (its
-- scheme in lower case, without a trailing "/") and the socket path. A user and password
-- in the URL are refused without showing them: sbxd's key is api_key.
local function parse_url(url)
  local path = url:match("^unix:(.+)$")
  if path then return "http://localhost", path end
  local scheme, authority, rest = url:match("^(%a+)://([^/?#]*)(.*)$")
  scheme = scheme and scheme:lower()
  local why
  if scheme ~= "http" and scheme ~= "https" then
    why = "must be " .. URL_FORM
  elseif authority:find("@", 1, true) then
    errors.raise("InvalidArgumentError", "url must not hold a user or password: give sbxd's key as api_key")
  elseif rest:find("[?#]") then
    why = "must not have a query or a fragment"
  else
    why = bad_authority(authority)
  end
  if why then errors.raise("InvalidArgumentError", ("url %q %s"):format(url, why)) end
  return scheme .. "://" .. authority .. rest:gsub("/+$", ""), nil
end

--- Refuses a key that cannot go as it is in "Authorization: Bearer KEY" (a header field's
-- value holds no control character, and loses the spaces at its ends), without showing it.
local function check_key(key)
  if key and (key:find("[%c\127]") or key:find("^ ") or key:find(" $")) then
    errors.raise("InvalidArgumentError", "api_key must have no control character (CR, LF, tab, ...) and no "
      .. "space at either end: it is sent in an HTTP header")
  end
end

--- opts: url (required here), api_key, request_timeout (seconds, 0 = none), embedded
-- (true: the url is the embedded sbxd's, which is started again when it died).
function M.new(opts)
  local base, socket = parse_url(opts.url)
  check_key(opts.api_key)
  return setmetatable({
    url = opts.url, base = base, socket = socket, api_key = opts.api_key,
    request_timeout = opts.request_timeout or 30, made_headers = {}, embedded = opts.embedded,
    generation = opts.embedded and embedded.generation() or nil,
  }, Client)
end

--- Whether this client's sbxd is the embedded one and it is gone: it died, or another was
-- started since the client was made. Its sandboxes and processes went with it, so a cut
-- stream or session has nothing to attach to again. False for any other sbxd (one behind
-- a URL may be a proxy that restarts).
function Client:embedded_gone()
  if not self.embedded then return false end
  local d = embedded.daemon()
  return embedded.generation() ~= self.generation or not (d and d:alive())
end

--- The request headers for answers of type `accept`: the same every time, made once.
function Client:headers(accept)
  local made = self.made_headers[accept]
  if made then return made end
  local h = { "Accept: " .. accept }
  if self.api_key then h[#h + 1] = "Authorization: Bearer " .. self.api_key end
  self.made_headers[accept] = h
  return h
end

--- The request headers without an Accept (a call whose answer is not read): made once.
function Client:auth_headers()
  local made = self.made_headers[false]
  if made then return made end
  made = self.api_key and { "Authorization: Bearer " .. self.api_key } or {}
  self.made_headers[false] = made
  return made
end

--- The URL of a path on this server.
function Client:url_of(path)
  return self.base .. path
end

--- Where an interactive session connects (core.session's fields but the path): the
-- unix socket, or the address and port of the base URL (a name is resolved by the core;
-- https: wss, TLS to that name), with the Host and Authorization headers, and `prefix`,
-- the base URL's path ("" or "/under/it": sbxd behind a proxy under a path), which
-- begins every session's path as it begins every request's. Made once.
function Client:ws_target()
  local t = self.target
  if t then return t end
  t = { authorization = self.api_key and "Bearer " .. self.api_key or nil, prefix = "" }
  if self.socket then
    t.unix_socket, t.host = self.socket, "localhost"
  else
    local scheme, hostport, prefix = self.base:match("^(https?)://([^/]+)(.*)$")
    t.prefix = prefix
    local host, port = hostport:match("^%[(.+)%]:?(%d*)$")
    if not host then host, port = hostport:match("^([^:]+):?(%d*)$") end
    t.tls = scheme == "https"
    t.address, t.port, t.host = host, tonumber(port) or (t.tls and 443 or 80), hostport
  end
  self.target = t
  return t
end

--- Starts a request; body is a Lua table sent as JSON, or nil. sse: nil for a JSON
-- call, else a table of stream options for the core (collect, chunks).
function Client:open(method, path, body, sse)
  return self:open_url(method, self:url_of(path), body and cjson.encode(body) or nil, sse)
end

-- What a process stream accepts: binary frames (raw output bytes, no base64) from an sbxd
-- that speaks them, SSE from one that does not; the core reads either (docs/PROTOCOL.md).
local STREAM_ACCEPT = "application/vnd.sbx.frames, text/event-stream"

-- What core.request reads, filled anew for every request (the core copies what it
-- keeps): a command in flight leaves no table of its start behind.
local REQUEST = {}

--- Client:open with the URL already made and the body already JSON text (or nil; or
-- bytes sent as they are when `raw`). `fresh`: on a new connection, never a reused one
-- (which curl would send it again on by itself, were it cut before its answer). A
-- request that cannot start (curl refuses a value of it, or memory ran out) raises the
-- sbx error the core names.
function Client:open_url(method, url, json, sse, raw, output_from, fresh)
  local req = REQUEST
  req.method, req.url, req.unix_socket, req.body, req.raw_body = method, url, self.socket, json, raw
  req.headers = self:headers(sse and STREAM_ACCEPT or "application/json")
  req.sse, req.collect, req.chunks = sse ~= nil, sse and sse.collect, sse and sse.chunks
  req.bulk, req.output_from, req.fresh = sse and sse.bulk, output_from, fresh
  local op, message, kind = core.request(req)
  -- a large body lives as long as its op, not longer; an op only as long as it is used
  req.url, req.body, req.output_from = nil, nil, nil
  if not op then errors.raise(kind, ("%s: the request cannot start: %s"):format(method, message)) end
  return op
end

local function decode_json(body)
  local ok, value = pcall(cjson.decode, body)
  if ok then return value end
  return nil
end

--- The node names of a proxy's 421 "list each node" answer (`doc.nodes`), or nil.
local function node_names(status, doc)
  if status ~= 421 or type(doc) ~= "table" or type(doc.nodes) ~= "table" then return nil end
  local names = {}
  for i, n in ipairs(doc.nodes) do
    if type(n) ~= "string" or not n:find("^%d+$") then return nil end
    names[i] = n
  end
  return names
end

--- What a refusal says when it holds no error of sbxd's (sbxd and the proxies set up by
-- deploy/ answer every refusal with one): some other server answered.
local function foreign_refusal(status, body)
  local text = (body or ""):sub(1, 200):gsub("[%c]+", " ")
  return ("HTTP %d with no error of sbxd's in the answer (is the URL sbxd's?)%s"):format(status,
    text:find("%S") and ": " .. text or ", and an empty body")
end

--- Raises the error a non-2xx response stands for. A proxy in front of several sbxd
-- answers a list with 421 and its nodes: the error holds them in err.nodes.
function M.raise_status(status, body)
  local doc = decode_json(body or "")
  local e = type(doc) == "table" and type(doc.error) == "table" and doc.error or {}
  local message = type(e.message) == "string" and e.message or foreign_refusal(status, body)
  errors.raise(errors.kind_for(status, e.kind), message,
    { status = status, nodes = node_names(status, doc) })
end

-- curl's codes for a request that never reached a server: it may be sent again.
local CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT = 6, 7

--- Whether transport error `ev` is one of a request that reached no server.
local function unreachable(ev)
  return ev.code == CURLE_COULDNT_CONNECT or ev.code == CURLE_COULDNT_RESOLVE_HOST
end

-- curl's codes for a request that failed because of what was said, not because the
-- connection went: a URL curl cannot use, a malformed answer (the decoder refused it),
-- no memory, a TLS certificate refused (the server's: no CA trusted signed it, or it
-- names another host; or the client's own). Sending again would get the same.
M.NOT_A_CUT = { [1] = true, [2] = true, [3] = true, [23] = true, [27] = true, [58] = true,
  [59] = true, [60] = true, [77] = true, [83] = true, [90] = true, [91] = true, [98] = true }

--- Raises the SandboxError a transport failure event of a request to `client` stands for.
-- When the request could not connect, err.unreachable is true: no server saw it.
function M.raise_transport(ev, client)
  local url = client.url
  if unreachable(ev) then
    errors.raise("SandboxError", ("cannot reach sbxd at %s: %s"):format(url, tostring(ev.message)),
      { unreachable = true, busy = ev.busy })
  end
  errors.raise("SandboxError", ("connection to sbxd at %s failed: %s"):format(url, tostring(ev.message)))
end

-- A connect refused because sbxd's listen queue is full (it is out of descriptors, or
-- takes connections slower than they come) is sent again after these pauses, doubling,
-- for as long as the request's deadline allows.
local BUSY_FIRST, BUSY_MAX = 0.005, 0.25

--- The state of one request's resends; `deadline` bounds them (nil: none).
function Client:resends(deadline)
  return { deadline = deadline, pause = BUSY_FIRST,
    generation = self.embedded and embedded.generation() }
end

--- Whether a request that failed with transport error `ev` before any answer may be sent
-- again now (after a pause when sbxd was busy): it never reached a server. So it is when
-- sbxd's listen queue was full, and, for the embedded sbxd, once when sbxd had died and
-- was started again (same socket, same key).
function Client:may_resend(ev, state)
  if ev.busy then
    if state.deadline and core.now() + state.pause > state.deadline then return false end
    wait.sleep(state.pause)
    state.pause = math.min(state.pause * 2, BUSY_MAX)
    return true
  end
  if not (self.embedded and unreachable(ev) and state.generation) then return false end
  local was = state.generation
  state.generation = nil -- once
  return embedded.revive() ~= was
end

-- Statuses of a moment: sbxd's own 503 (a cap reached) and a proxy's 503 or 504 (its
-- upstream busy or slow to answer). An attach after a cut so answered tries again within
-- its window rather than fail. A 502 is not one of them: the proxy of deploy/ answers it
-- when it cannot reach the node ("sbxd node N is down"), and a node's processes go with
-- its sbxd, so no later attach would find the process.
M.PASSING = { [503] = true, [504] = true }

function M.raise_timeout(what, seconds)
  errors.raise("TimeoutError", ("%s timed out after %g s"):format(what, seconds))
end

-- Events handled per turn, and their bytes: a task with more queued lets the others
-- go first, so one task's backlog of output cannot fill a host's frame.
local BATCH, BATCH_BYTES = 16, 32 * 1024

--- Waits for queued events of `op` or the deadline; closes the op on timeout.
-- `silence` (seconds, optional): no byte from the server for that long means it is
-- stopped or gone (sbxd speaks at least every keep-alive interval while it lives).
-- Returns an array of at most BATCH events, BATCH_BYTES of data (never empty).
function M.next_events(op, deadline, what, seconds, silence)
  while true do
    local evs, left = op:poll(BATCH, BATCH_BYTES)
    if left > 0 then wait.relinquish() end
    if #evs > 0 then return evs end
    local wake_at = deadline
    local quiet_until = silence and core.now() + silence - op:idle()
    if quiet_until and (not wake_at or quiet_until < wake_at) then wake_at = quiet_until end
    if not wait.wait(op, wake_at) then
      if silence and op:idle() >= silence then
        op:close()
        errors.raise("SandboxError", ("sbxd sent nothing for %g s: it is stopped or gone"):format(silence))
      end
      if deadline and core.now() >= deadline then
        op:close()
        M.raise_timeout(what, seconds)
      end
    end
  end
end

--- Waits for queued events of `op` until the deadline: an array of at most BATCH
-- events, or nil once the deadline passed.
function M.events_until(op, deadline)
  while true do
    local evs = op:poll(BATCH, BATCH_BYTES)
    if #evs > 0 then return evs end
    if not wait.wait(op, deadline) and core.now() >= deadline then return nil end
  end
end

-- What a cut costs before the next try, doubling from the first to the most: one policy
-- for streams and sessions attaching again, and for calls sent again (docs/API.md).
M.RESUME_FIRST, M.RESUME_MAX = 0.02, 1

-- A call that may be sent again (a read; pause, resume, a timeout; a stdin call with its
-- key, which sbxd takes once: docs/PROTOCOL.md "stdin") that was cut after it reached a
-- server is sent again after those pauses within its request timeout; so is it after
-- such a cut while the server cannot be reached or answers 503 or 504 (a proxy
-- restarting).
local AGAIN_FIRST, AGAIN_MAX = M.RESUME_FIRST, M.RESUME_MAX

--- Whether a repeatable call may be sent again now, after the pause: not past its deadline.
local function pause_to_resend(resends)
  resends.again = resends.again and math.min(resends.again * 2, AGAIN_MAX) or AGAIN_FIRST
  if resends.deadline and core.now() + resends.again > resends.deadline then return false end
  wait.sleep(resends.again)
  return true
end

--- Whether transport error `ev` of a repeatable call lets it be sent again. Before any cut, a
-- call that reached no server is refused at once, as every call is; one that is no cut
-- (NOT_A_CUT) is refused always.
local function again_after(ev, resends)
  if M.NOT_A_CUT[ev.code] or (not resends.again and unreachable(ev)) then return false end
  return pause_to_resend(resends)
end
-- (a start with its key is sent again as these calls are: sbx/stream.lua)
M.pause_to_resend, M.again_after = pause_to_resend, again_after

-- The answer of Client:delete sent again after a cut and answered 404.
local GONE = { gone = true }

--- One JSON request. It is closed on every way out, an error or a cancel of the task
-- included. Returns the document, or nil and true when it is to be sent again.
local function call_once(client, method, path, body, raw, seconds, deadline, resends)
  local op <close> = client:open_url(method, client:url_of(path), body, nil, raw, nil, resends.fresh)
  while true do
    for _, ev in ipairs(M.next_events(op, deadline, method .. " " .. path, seconds)) do
      if ev.type == "done" then
        op:close()
        if ev.status < 200 or ev.status > 299 then
          -- sent again after a cut, a kill that finds nothing to kill: the first did it
          if ev.status == 404 and resends.done_if_gone and resends.again then return GONE end
          -- after a cut: a proxy whose upstream is restarting (sbxd's own 503 to a first
          -- sending, out of descriptors, is the caller's to see)
          local passing = resends.repeatable and resends.again and M.PASSING[ev.status]
          if passing and pause_to_resend(resends) then return nil, true end
          M.raise_status(ev.status, ev.body)
        end
        local doc = decode_json(ev.body)
        if doc == nil then
          -- curl (7.88) ends an answer cut inside its head as a whole one with no body
          if resends.repeatable and pause_to_resend(resends) then return nil, true end
          errors.raise("SandboxError", "sbxd sent a body that is not JSON", { status = ev.status })
        end
        return doc
      elseif ev.type == "error" then
        op:close()
        if client:may_resend(ev, resends) then return nil, true end
        if resends.repeatable and again_after(ev, resends) then return nil, true end
        M.raise_transport(ev, client)
      end
    end
  end
end

-- How a call is sent again (see call): not at all; as a read is; as a sandbox's kill is.
local ONCE, REPEATABLE = {}, { repeatable = true }
local DELETE = { repeatable = true, done_if_gone = true }

--- A call whose body is `text` (JSON, or bytes when `raw`; or nil): returns the decoded
-- body of a 2xx answer, raises otherwise. `how.repeatable`: it may be sent again
-- (AGAIN_FIRST). `how.done_if_gone`: a 404 to a sending after a cut means the sending
-- before did it (GONE). `how.made(deadline)`: asked before each sending again, the
-- document of what a sending before made, or nil; `how.fresh`: each sending on a new
-- connection (a create: see Client:create).
local function call(client, method, path, text, raw, request_timeout, how)
  local seconds = request_timeout or client.request_timeout
  local deadline = wait.deadline(seconds)
  local resends = client:resends(deadline)
  resends.repeatable, resends.done_if_gone, resends.fresh = how.repeatable, how.done_if_gone, how.fresh
  while true do
    local doc, again = call_once(client, method, path, text, raw, seconds, deadline, resends)
    if not again then return doc end
    doc = how.made and how.made(deadline)
    if doc then return doc end
  end
end

--- A JSON call: `body` is a Lua table sent as JSON (or nil). A GET is sent again after a
-- cut (AGAIN_FIRST); another method is not.
function Client:call(method, path, body, request_timeout)
  return call(self, method, path, body and cjson.encode(body) or nil, false, request_timeout,
    method == "GET" and REPEATABLE or ONCE)
end

--- A JSON call that doing twice does what doing once does (pause, resume, a timeout): sent
-- again after a cut, as a GET is.
function Client:call_repeatable(method, path, body)
  return call(self, method, path, body and cjson.encode(body) or nil, false, nil, REPEATABLE)
end

--- A DELETE of something whose name is never used again (a sandbox's kill): sent again
-- after a cut, as a GET is. Returns sbxd's document; or, when a sending after a cut is
-- answered 404, `{gone = true}`: a sending before it did the deed (or it was done
-- before; either way, it is done). A 404 to the first sending raises NotFoundError.
function Client:delete(path)
  return call(self, "DELETE", path, nil, false, nil, DELETE)
end

--- A create (POST `path`, whose query holds its key: ?key=) of JSON `body`: sent again
-- after a cut, as a GET is; sbxd makes one sandbox for one key. Behind a proxy the
-- sending again may reach another node than the sending before, so before each one
-- `made(deadline)` looks for what a sending before made (by its key, on every node): the
-- info document of that sandbox, or nil. Each sending goes on a connection of its own:
-- curl would send it again by itself on a reused one that died before the answer,
-- without that look.
function Client:create(path, body, made)
  return call(self, "POST", path, cjson.encode(body), false, nil,
    { repeatable = true, made = made, fresh = true })
end

--- A call sbxd takes at most once (a stdin call, a signal by pid): `path` gets a key of
-- its own (`?writer=`), and a sending cut after it reached a server is sent again with
-- the same key. `body`: a table sent as JSON; or, when `raw`, bytes sent as they are
-- (application/octet-stream); or nil. The answer is JSON.
function Client:call_keyed(method, path, body, raw)
  local key = core.random_hex(8)
  if key then path = path .. "?writer=" .. key end
  local text = body
  if body ~= nil and not raw then text = cjson.encode(body) end
  return call(self, method, path, text, raw, nil, key and REPEATABLE or ONCE)
end

--- JSON null -> nil; whole floats -> integers (cjson decodes every number as a float).
function M.int(v)
  if type(v) == "number" then return math.tointeger(v) or v end
  return nil
end

function M.str(v)
  if type(v) == "string" then return v end
  return nil
end

-- Bytes in JSON (docs/PROTOCOL.md "Bytes in text fields"): a command, a path or an env
-- value that is not UTF-8 travels as { base64 = "..." }, both ways.

--- s (bytes, or nil) as a start's field takes it.
function M.bytes(s)
  if s == nil or utf8.len(s) then return s end
  return { base64 = core.b64encode(s) }
end

--- A map of bytes (env) as a request takes it: the same table when every value is UTF-8.
function M.bytes_map(map)
  if map == nil then return nil end
  for _, v in pairs(map) do
    if not utf8.len(v) then
      local out = {}
      for k, x in pairs(map) do out[k] = M.bytes(x) end
      return out
    end
  end
  return map
end

--- The bytes a field of an answer stands for: a string, or { base64 = } decoded; else nil.
function M.bytes_of(v)
  if type(v) == "table" and type(v.base64) == "string" then return core.b64decode(v.base64) end
  return M.str(v)
end

return M
