-- What nginx in front of sbxd costs (deploy/local/cluster.sh: one sbxd, nginx as
-- deploy/nginx/sbx-nginx-conf.sh writes it), against the same sbxd asked directly, in the
-- same run, samples of both kinds interleaved one by one:
-- 1. create -> first result: sbx.create, then run("true") to its result. Targets: the
--    median through nginx within +5 ms of direct, the p99 at most 1.5x.
-- 2. a run's output stream: `head -c SIZE /dev/zero` counted by an on_stdout callback
--    (binary frames, the sbx client's own bound), and the same as SSE read by curl into
--    /dev/null (what any HTTP client gets, and where nginx's own cost shows: neither end
--    is slower than nginx). Target: through nginx >= 90 % of direct. Each round streams
--    once each way, one right after the other, and gives a ratio of the two; the verdict
--    is the median of the rounds' ratios (a slow moment of the machine then costs one
--    round, not the kind it happened to hit). The medians of each kind's MB/s are shown
--    too. Each round also streams direct a second time: the ratio of those two, the same
--    stream twice, is what this machine's noise alone makes of a ratio.
-- Also the CPU seconds per GB nginx's worker and sbxd spent on the stream.
-- arg[1]: create samples of each kind (default 200); arg[2]: MiB per stream (default 256);
-- arg[3]: stream rounds (default 9).
local sbx = require "sbx"
local helper = require "helper"
local cluster = require "cluster"

local N = math.tointeger(tonumber(arg[1])) or 200
local MIB = 1024 * 1024
local SIZE = (math.tointeger(tonumber(arg[2])) or 256) * MIB
local ROUNDS = math.tointeger(tonumber(arg[3])) or 9

--- The pid of nginx's (one) worker: the child of its master.
local function nginx_worker(c)
  local master = helper.sh(("cat %s/nginx.pid"):format(c.dir))
  return tonumber(helper.sh(("pgrep -P %s | head -1"):format(master)))
end

--- ms from sbx.create to the result of its first run; the sandbox is killed after.
local function create_sample(opts)
  local t0 = sbx.now()
  local box = sbx.create(opts)
  box.commands:run("true")
  local ms = (sbx.now() - t0) * 1000
  box:kill()
  return ms
end

local CMD = ("head -c %d /dev/zero"):format(SIZE)

--- MB/s of one stream of SIZE bytes, and the CPU seconds of the processes `pids` meanwhile.
local function stream_sample(box, pids)
  local cpu0 = {}
  for i, pid in ipairs(pids) do cpu0[i] = helper.cpu_seconds(pid) end
  local total = 0
  local t0 = sbx.now()
  local r = box.commands:run(CMD, { on_stdout = function(chunk) total = total + #chunk end })
  local wall = sbx.now() - t0
  assert(total == SIZE and r.exit_code == 0, "the stream brought " .. total)
  local cpu = {}
  for i, pid in ipairs(pids) do cpu[i] = helper.cpu_seconds(pid) - cpu0[i] end
  return SIZE / 1e6 / wall, cpu
end

--- MB/s of the output of one run of CMD as SSE, read by curl into /dev/null.
local function sse_sample(opts, id, pids)
  local cpu0 = {}
  for i, pid in ipairs(pids) do cpu0[i] = helper.cpu_seconds(pid) end
  local out = helper.sh(("curl -s -o /dev/null -w '%%{http_code} %%{size_download} %%{time_total}' "
    .. "-H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
    .. "-d '{\"cmd\":\"%s\"}' '%s/sandboxes/%s/processes'"):format(opts.api_key, CMD, opts.url, id))
  local status, bytes, seconds = out:match("^(%d+) (%d+) ([%d.]+)$")
  assert(status == "200" and tonumber(bytes) > SIZE, "curl: " .. out)
  local cpu = {}
  for i, pid in ipairs(pids) do cpu[i] = helper.cpu_seconds(pid) - cpu0[i] end
  return SIZE / 1e6 / tonumber(seconds), cpu
end

--- Rounds of `sample(kind)` for direct and nginx, alternating which goes first, and
-- direct once more ("again", the control); prints the medians, the CPU of sbxd and
-- nginx's worker per GB, and the median of the rounds' ratios, nginx's and the control's.
local function compare(title, sample)
  local rates, cpu = { direct = {}, nginx = {}, again = {} }, { direct = { 0, 0 }, nginx = { 0, 0 } }
  local ratios, control = {}, {}
  sample("direct"); sample("nginx") -- warm
  for round = 1, ROUNDS do
    local order = round % 2 == 1 and { "direct", "nginx", "again" } or { "nginx", "direct", "again" }
    for _, kind in ipairs(order) do
      local rate, used = sample(kind == "again" and "direct" or kind)
      rates[kind][round] = rate
      if cpu[kind] then cpu[kind][1], cpu[kind][2] = cpu[kind][1] + used[1], cpu[kind][2] + used[2] end
    end
    ratios[round] = rates.nginx[round] / rates.direct[round]
    control[round] = rates.again[round] / rates.direct[round]
  end
  local gb = ROUNDS * SIZE / 1e9
  print(("%s, %d MiB, %d rounds of each, alternating"):format(title, SIZE // MIB, ROUNDS))
  for _, kind in ipairs { "direct", "nginx" } do
    local name = kind == "nginx" and "via nginx" or kind
    print(("  %-10s  median %7.1f MB/s  sbxd %.2f CPU s/GB  nginx worker %.2f CPU s/GB"):format(
      name, helper.summary(rates[kind]).median, cpu[kind][1] / gb, cpu[kind][2] / gb))
  end
  local r = helper.summary(ratios)
  print(("  via nginx / direct  x%.2f, the median of the rounds' ratios (target >= 0.90);"
    .. " lowest x%.2f, highest x%.2f"):format(r.median, r.min, r.max))
  local a = helper.summary(control)
  print(("  direct again / direct  x%.2f, the same stream twice (the noise); lowest x%.2f, highest x%.2f")
    :format(a.median, a.min, a.max))
end

local c = cluster.start(1)
local ok, err = pcall(function()
  local direct = { url = c.node_url(0), api_key = c.key }
  local proxied = c.opts
  local sbxd, worker = c.node_pid(0), nginx_worker(c)
  for _ = 1, 10 do create_sample(direct); create_sample(proxied) end -- warm: connections
  local d, p = {}, {}
  for i = 1, N do
    if i % 2 == 0 then d[i] = create_sample(direct) end
    p[i] = create_sample(proxied)
    if i % 2 == 1 then d[i] = create_sample(direct) end
  end
  local ds, ps = helper.summary(d), helper.summary(p)
  print(("create -> first result, %d of each, interleaved"):format(N))
  print(("  direct      median %6.2f ms  p99 %6.2f ms"):format(ds.median, ds.p99))
  print(("  via nginx   median %6.2f ms  p99 %6.2f ms"):format(ps.median, ps.p99))
  print(("  nginx adds  median %+6.2f ms (target <= +5)  p99 x%.2f (target <= 1.5)"):format(
    ps.median - ds.median, ps.p99 / ds.p99))

  local boxes = { direct = sbx.create(direct) }
  boxes.nginx = sbx.connect(boxes.direct.id, proxied)
  local pids = { sbxd, worker }
  compare("output stream to an on_stdout callback (binary frames)", function(kind)
    return stream_sample(boxes[kind], pids)
  end)
  local urls = { direct = direct, nginx = proxied }
  compare("output stream as SSE, read by curl", function(kind)
    return sse_sample(urls[kind], boxes.direct.id, pids)
  end)
  boxes.direct:kill()
end)
c.stop()
assert(ok, err)
