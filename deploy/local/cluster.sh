#!/bin/sh
# Many sbxd behind one nginx, on loopback: the local form of deploy/kubernetes.
#
#   cluster.sh start DIR [N]   starts N sbxd (default 4), node 0 to N-1, each on a free
#                              loopback port, and nginx in front on another, with the
#                              routing of deploy/nginx/sbx-nginx-conf.sh. Writes DIR/env
#                              (SBX_URL, SBX_API_KEY; `. DIR/env` to use it) and prints
#                              the URL once every part answers.
#   cluster.sh stop DIR        stops all of them and removes DIR
#   cluster.sh kill DIR N      SIGKILLs node N (a node that is gone)
#   cluster.sh reload DIR      makes nginx load its configuration again
#   cluster.sh restart DIR     stops nginx and starts it again on the same port
#
# Environment: SBXD (the sbxd program; default build/sbxd beside this tree), NGINX
# (default nginx on PATH), SBX_API_KEY (default a random key), SBXD_ARGS (more sbxd
# options, e.g. "--isolation none"), NGINX_WORKERS (default 1), NGINX_SHUTDOWN_TIMEOUT
# (how long a reload lets old workers finish their streams; default 10s).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SBXD=${SBXD:-$root/build/sbxd}
NGINX=${NGINX:-nginx}
NGINX_WORKERS=${NGINX_WORKERS:-1}
NGINX_SHUTDOWN_TIMEOUT=${NGINX_SHUTDOWN_TIMEOUT:-10s}

die() { echo "cluster.sh: $*" >&2; exit 1; }

# A loopback port nobody listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 10 s for file $1 to have a line. (Shell functions share variables: each
# loop here has a counter of its own name.)
wait_line() {
  tries=0
  while [ ! -s "$1" ]; do
    tries=$((tries + 1))
    [ $tries -le 200 ] || return 1
    sleep 0.05
  done
}

start_node() { # DIR N
  rm -f "$1/node$2.ready"
  # shellcheck disable=SC2086 # SBXD_ARGS is a list of options
  "$SBXD" --listen 127.0.0.1:0 --api-key "$key" --node "$2" --quiet --ready-fd 3 \
    ${SBXD_ARGS:-} 3>"$1/node$2.ready" </dev/null >>"$1/node$2.log" 2>&1 &
  echo $! >"$1/node$2.pid"
  wait_line "$1/node$2.ready" || die "sbxd node $2 did not start (see $1/node$2.log)"
}

nginx_cmd() { # DIR [ARGS]
  d=$1
  shift
  "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" "$@"
}

start_nginx() { # DIR
  nginx_cmd "$1" || die "nginx did not start (see $1/error.log)"
  tries=0
  until curl -fsS -o /dev/null "http://127.0.0.1:$(cat "$1/nginx.port")/nodes" 2>/dev/null; do
    tries=$((tries + 1))
    [ $tries -le 200 ] || die "nginx does not answer (see $1/error.log)"
    sleep 0.05
  done
}

start() { # DIR N
  dir=$1 n=$2
  [ ! -e "$dir/env" ] || die "$dir already holds a cluster"
  mkdir -p "$dir/tmp"
  # a start that fails, however, stops what it had started (the directory stays, with
  # the logs its message points to)
  trap 'stop_processes "$dir"' EXIT
  key=${SBX_API_KEY:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
  nodes=
  i=0
  while [ $i -lt "$n" ]; do
    start_node "$dir" $i
    nodes="$nodes --node $(sed -n 's/^ready \([^ ]*\).*/\1/p' "$dir/node$i.ready")"
    i=$((i + 1))
  done
  port=$(free_port)
  echo "$port" >"$dir/nginx.port"
  # shellcheck disable=SC2086 # one --node ADDR pair per node
  "$root/deploy/nginx/sbx-nginx-conf.sh" --listen "127.0.0.1:$port" --prefix "$dir" \
    --workers "$NGINX_WORKERS" --shutdown-timeout "$NGINX_SHUTDOWN_TIMEOUT" $nodes >"$dir/nginx.conf"
  start_nginx "$dir"
  printf 'SBX_URL=http://127.0.0.1:%s\nSBX_API_KEY=%s\nexport SBX_URL SBX_API_KEY\n' "$port" "$key" \
    >"$dir/env"
  trap - EXIT
  echo "http://127.0.0.1:$port"
}

stop_processes() { # DIR: nginx and every node it holds the pid of, stopped
  if [ -s "$1/nginx.pid" ]; then nginx_cmd "$1" -s stop 2>/dev/null || true; fi
  for f in "$1"/node*.pid; do
    [ -e "$f" ] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$1"/node*.pid; do
    [ -e "$f" ] || continue
    i=0
    while kill -0 "$(cat "$f")" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    kill -KILL "$(cat "$f")" 2>/dev/null || true
  done
  i=0
  while [ -s "$1/nginx.pid" ] && kill -0 "$(cat "$1/nginx.pid")" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
  done
}

stop() { # DIR
  [ -d "$1" ] || return 0
  stop_processes "$1"
  rm -rf "$1"
}

restart_nginx() { # DIR
  old=$(cat "$1/nginx.pid")
  nginx_cmd "$1" -s stop
  while kill -0 "$old" 2>/dev/null; do sleep 0.02; done
  start_nginx "$1"
}

[ $# -ge 2 ] || die "usage: cluster.sh start DIR [N] | stop DIR | kill DIR N | reload DIR | restart DIR"
case $1 in
  start) start "$2" "${3:-4}" ;;
  stop) stop "$2" ;;
  kill) kill -KILL "$(cat "$2/node$3.pid")" ;;
  reload) nginx_cmd "$2" -s reload ;;
  restart) restart_nginx "$2" ;;
  *) die "unknown action $1" ;;
esac
