rockspec_format = "3.0"
package = "sbx"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "Run commands inside sandboxes from Lua: run, stream, background, interactive sessions.",
  detailed = [[
sbx runs shell commands inside sandboxes owned by sbxd, its daemon, which is built and
installed beside the module, with sbx-init (the first process in each sandbox) beside
sbxd. With no url, the module starts a private sbxd per process. The `sbx` command (a
command line for sandboxes and their commands) is installed in the tree's bin.
Needs lua-cjson and argparse at run time and, to build, libcurl, libuv, libwebsockets
(with its libuv event library), OpenSSL and jansson development files. Offline, with lua-cjson and
argparse from the system's packages (Debian: lua-cjson, lua-argparse), install with
--deps-mode none: luarocks then does not look for them in its own trees.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4",
  "lua-cjson >= 2.1",
  "argparse >= 0.7",
}
-- libcurl is found by the Makefile through pkg-config: Debian keeps its header under a
-- multiarch include directory that this check does not search.
external_dependencies = {
  LIBUV = { header = "uv.h" },
  LIBWEBSOCKETS = { header = "libwebsockets.h" },
  JANSSON = { header = "jansson.h" },
  OPENSSL = { header = "openssl/x509v3.h" },
}
build = {
  type = "make",
  build_variables = {
    LUA = "$(LUA)",
  },
  install_variables = {
    PREFIX = "$(PREFIX)",
    LUADIR = "$(LUADIR)",
    LIBDIR = "$(LIBDIR)",
    BINDIR = "$(BINDIR)",
  },
}
