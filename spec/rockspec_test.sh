#!/usr/bin/env bash
# The rockspec builds and installs sbx, sbxd, sbx-init and the sbx command into a fresh
# tree, and a script that has only that tree (plus the system's Lua paths, for lua-cjson)
# gets a result through the embedded default, from outside the source tree; the command
# prints its help. lua-cjson and argparse, which the rockspec declares, come from the
# system's packages: --deps-mode none (no registry).
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
# the command line: luarocks puts a wrapper in the tree's bin that runs the script with
# the tree's paths (here: LUA_PATH and LUA_CPATH, as for any tree not in its config)
test -x "$tree/bin/sbx"
help=$(cd / && env -u SBX_URL \
  LUA_PATH="$tree/share/lua/5.4/?.lua;$tree/share/lua/5.4/?/init.lua;;" \
  LUA_CPATH="$tree/lib/lua/5.4/?.so;;" \
  "$tree/bin/sbx" --help)
case "$help" in
  "Usage: sbx "*) ;;
  *) echo "rockspec: unexpected sbx --help: '$help'"; exit 1 ;;
esac
# the dependencies are declared, so a luarocks that may look for them would
grep -q '"lua-cjson' rockspec/sbx-scm-1.rockspec
grep -q '"argparse' rockspec/sbx-scm-1.rockspec
echo "rockspec: installed into a fresh tree, ran through the embedded sbxd, sbx --help works"
