--- sbx: run commands inside sandboxes owned by sbxd. The contract is docs/API.md.
local sandbox = require "sbx.sandbox"
local errors = require "sbx.errors"

return {
  VERSION = "0.1.0",
  create = sandbox.create,
  connect = sandbox.connect,
  list = sandbox.list,
  errors = errors,
}
