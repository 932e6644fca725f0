#!/usr/bin/env bash
# The rockspec builds and installs sbx, sbxd and sbx-init into a fresh tree, and a script
# that has only that tree (plus the system's Lua paths, for lua-cjson) gets a result
# through the embedded default, from outside the source tree. lua-cjson, which the
# rockspec declares, comes from the system's packages: --deps-mode none (no registry).
set -euo pipefail
LUA=${LUA:-lua5.4}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
luarocks --lua-version 5.4 --tree "$tree" make --deps-mode none rockspec/sbx-scm-1.rockspec > "$tree/build.log" 2>&1 \
  || { cat "$tree/build.log"; exit 1; }
test -x "$tree/lib/lua/5.4/sbx/sbxd"
test -x "$tree/lib/lua/5.4/sbx/sbx-init"
test -x "$tree/bin/sbx-init"
out=$(cd / && env -u SBX_SBXD -u SBX_URL \
  LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua;;" \
  LUA_CPATH="$tree/lib/lua/5.4/?.so;;" \
  "$LUA" -e 'io.write(require"sbx".create().commands:run("echo from-rock").stdout)')
if [ "$out" != "from-rock" ]; then echo "rockspec: unexpected output '$out'"; exit 1; fi
# the dependency is declared, so a luarocks that may look for it would
grep -q '"lua-cjson' rockspec/sbx-scm-1.rockspec
echo "rockspec: installed into a fresh tree and ran through the embedded sbxd"
