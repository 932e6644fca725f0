-- The Kubernetes manifests of deploy/kubernetes, read with lyaml for the specs: every
-- YAML file, its objects, and lookups across them.
local lyaml = require "lyaml"

local M = {}

M.DIR = "deploy/kubernetes"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
M.read_file = read_file

--- The YAML files of the directory, sorted by name.
function M.files()
  local names = {}
  local p = assert(io.popen("ls " .. M.DIR))
  for name in p:lines() do
    if name:match("%.yaml$") then names[#names + 1] = name end
  end
  p:close()
  table.sort(names)
  return names
end

--- Every file's documents: { [file] = {doc, ...} }; parse errors are raised.
function M.load()
  local docs = {}
  for _, name in ipairs(M.files()) do
    docs[name] = lyaml.load(read_file(M.DIR .. "/" .. name), { all = true })
  end
  return docs
end

--- The object of `kind` named `name` among all documents, and its file.
function M.find(docs, kind, name)
  for file, list in pairs(docs) do
    for _, doc in ipairs(list) do
      if doc.kind == kind and doc.metadata and doc.metadata.name == name then return doc, file end
    end
  end
  return nil
end

--- Whether every key = value of `selector` is among `labels`.
function M.selects(selector, labels)
  if type(selector) ~= "table" or next(selector) == nil then return false end
  for k, v in pairs(selector) do
    if labels[k] ~= v then return false end
  end
  return true
end

--- The container port of `container` that a probe's or Service's port (a name or a
-- number) means, or nil.
function M.container_port(container, port)
  for _, p in ipairs(container.ports or {}) do
    if p.name == port or p.containerPort == port then return p end
  end
  return nil
end

return M
