-- The min-heap behind task deadlines: entries come out nearest first, and a filter
-- keeps the order of what it keeps.
local heap = require "sbx.heap"

local function drain(h)
  local out = {}
  while h:peek() do out[#out + 1] = h:pop().at end
  return out
end

describe("heap", function()
  it("gives entries back in order of at, ties included", function()
    local h, values = heap.new(), {}
    math.randomseed(7)
    for i = 1, 500 do
      values[i] = math.random(1, 100) / 10
      h:push({ at = values[i] })
    end
    table.sort(values)
    assert.are.same(values, drain(h))
    assert.is_nil(h:pop())
  end)

  it("keeps its order through pushes and pops mixed", function()
    local h = heap.new()
    for _, at in ipairs { 5, 3, 9 } do h:push({ at = at }) end
    assert.are.equal(3, h:pop().at)
    h:push({ at = 1 })
    h:push({ at = 7 })
    assert.are.same({ 1, 5, 7, 9 }, drain(h))
  end)

  it("keeps only what a filter keeps, still in order", function()
    local h = heap.new()
    for at = 30, 1, -1 do h:push({ at = at }) end
    h:filter(function(e) return e.at % 3 == 0 end)
    assert.are.same({ 3, 6, 9, 12, 15, 18, 21, 24, 27, 30 }, drain(h))
  end)
end)
