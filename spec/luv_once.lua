-- luv, loaded once for the whole test run. busted unloads the modules a spec file
-- required when the file is done; luv closes its loop when its module is collected, yet
-- a later require "luv" goes on with that closed loop (the next handle made crashes the
-- process). The registry keeps the first module, and so its loop, alive to the end.
local registry = debug.getregistry()
registry["sbx.spec.luv"] = registry["sbx.spec.luv"] or require "luv"
return registry["sbx.spec.luv"]
