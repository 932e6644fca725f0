--- A binary min-heap of entries ordered by their `at` field.
local M = {}
M.__index = M

function M.new()
  return setmetatable({}, M)
end

local function up(h, i)
  local e = h[i]
  while i > 1 do
    local p = i // 2
    if h[p].at <= e.at then break end
    h[i] = h[p]
    i = p
  end
  h[i] = e
end

local function down(h, i)
  local n, e = #h, h[i]
  while true do
    local c = 2 * i
    if c > n then break end
    if c < n and h[c + 1].at < h[c].at then c = c + 1 end
    if h[c].at >= e.at then break end
    h[i] = h[c]
    i = c
  end
  h[i] = e
end

function M:push(e)
  self[#self + 1] = e
  up(self, #self)
end

--- The entry with the smallest `at`, or nil.
function M:peek()
  return self[1]
end

function M:pop()
  local top, last = self[1], table.remove(self)
  if #self > 0 then
    self[1] = last
    down(self, 1)
  end
  return top
end

--- Keeps only the entries for which keep(e) is true.
function M:filter(keep)
  local kept = {}
  for i = 1, #self do
    if keep(self[i]) then kept[#kept + 1] = self[i] end
  end
  for i = #self, 1, -1 do self[i] = nil end
  for i = 1, #kept do self[i] = kept[i] end
  for i = #self // 2, 1, -1 do down(self, i) end
end

return M
