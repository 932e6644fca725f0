-- Sandboxes on many sbxd behind one URL (SBX_URL: `make simulate`, docs/DEPLOY.md):
-- creates spread over the nodes, each id's calls reach its own node, and sbx.list asks
-- every node. Without SBX_URL it runs the same on sbx's own sbxd, a single node.
local sbx = require "sbx"

local boxes = {}
for i = 1, 8 do boxes[i] = sbx.create { metadata = { example = "cluster" } } end

-- a command in each, all at once
local tasks = {}
for i, box in ipairs(boxes) do
  tasks[i] = sbx.go(function()
    return box.commands:run("echo $((6 * " .. i .. "))").stdout
  end)
end
sbx.loop()

local per_node = {}
for i, box in ipairs(boxes) do
  local node = box.id:match("^sbx_(%d+)_") or "-"
  per_node[node] = (per_node[node] or 0) + 1
  assert(tasks[i]:wait() == (6 * i) .. "\n")
end
local nodes = {}
for node, n in pairs(per_node) do nodes[#nodes + 1] = ("node %s: %d"):format(node, n) end
table.sort(nodes)
print("8 sandboxes, " .. table.concat(nodes, ", "))

local listed = sbx.list { metadata = { example = "cluster" } }
print(("sbx.list found %d of them"):format(#listed))
assert(#listed == #boxes)
for _, box in ipairs(boxes) do box:kill() end
