#!/bin/sh
# The entrypoint of the sbxd image in a StatefulSet: pod NAME-N (its hostname) is sbx
# node N, so `sbxd --node N ARGS...` runs, and every id it mints is sbx_N_<hex>, which
# nginx routes to NAME-N. Any other hostname is refused: a node number must be stable.
set -eu

host=${HOSTNAME:-$(hostname)}
ordinal=${host##*-}
case $host:$ordinal in
  ?*-*:0 | ?*-*:[1-9] | ?*-*:[1-9][0-9] | ?*-*:[1-9][0-9][0-9] | ?*-*:[1-9][0-9][0-9][0-9]) ;;
  *)
    echo "sbxd-entrypoint: hostname '$host' is not NAME-N with N from 0 to 9999 (a StatefulSet pod's)" >&2
    exit 2
    ;;
esac
exec sbxd --node "$ordinal" "$@"
