#!/bin/sh
# Writes, on stdout, the nginx configuration that puts many sbxd behind one URL.
#
#   sbx-nginx-conf.sh --listen ADDR [--listen ADDR ...] [--prefix DIR] [--workers N]
#                     [--resolver ADDR [--any NAME:PORT]] [--shutdown-timeout TIME]
#                     [--tls-cert FILE --tls-key FILE] --node ADDR [--node ADDR ...]
#
# The Nth --node (from 0) is the sbxd started with `--node N`; it mints ids sbx_N_<hex>.
# Routing, the same for every setup (deploy/local, deploy/kubernetes):
#   /sandboxes/sbx_N_...   to node N; a node number no --node has: 404 at once
#   POST /sandboxes        to the node with the fewest connections in flight, skipping a
#                          node that refuses connections
#   GET /sandboxes         421 with the node list: each node answers for itself at
#                          /nodes/N/sandboxes and the client merges (sbx.list does)
#   GET /nodes             {"nodes":["0","1",...]}
#   /nodes/N/PATH          PATH on node N
#   anything else          to any node (/health, and sbxd's own 404s)
# A node that cannot be reached answers 502 {"error":{"kind":"SandboxError",...}} saying
# which node is down. Streams (SSE, WebSocket) pass through unbuffered, with idle
# timeouts well above sbxd's keep-alive interval (--keepalive, 15 s by default).
#
# Without --resolver, node addresses are resolved once, when nginx starts (IP addresses,
# as deploy/local uses). With --resolver (a DNS server, as in Kubernetes), each node's
# name is resolved as requests come, so a node that moves (a pod started again) is found
# at its new address, and nginx starts even while a node's name does not resolve yet.
# nginx (1.22, Debian 12's) resolves the servers of an upstream group only at start, so
# creates, which go to the group of all nodes, need --any with a resolver: NAME is resolved
# per request too, and a create goes to one of its addresses in turn (the next one when a
# connection is refused). In Kubernetes NAME is a Service that lists the ready sbxd pods.
#
# A reload (nginx -s reload) starts new workers for new connections; the old ones finish
# the requests they hold, streams and sessions included, for at most --shutdown-timeout
# (an nginx time, default 10s), then close what is left. A client sees such a close as
# any cut: it attaches again, through a new worker, from the last byte it has.
# Each --listen is an address nginx listens on (an IPv4 and an IPv6 one, say: [::1]:8443).
# --tls-cert and --tls-key (PEM files, both or neither) make the listeners HTTPS: clients
# use https:// and wss://, and nginx speaks plain HTTP to the nodes, as in Kubernetes
# behind a TLS ingress.
# --prefix DIR puts nginx's pid file, logs and temporary files under DIR (an nginx run
# by a user, as deploy/local does); without it they are where the package keeps them.
set -eu

usage() {
  echo "usage: $0 --listen ADDR... [--prefix DIR] [--workers N] [--resolver ADDR [--any NAME:PORT]]" \
    "[--shutdown-timeout TIME] [--tls-cert FILE --tls-key FILE] --node ADDR..." >&2
  exit 2
}

listen= prefix= workers=auto resolver= any= shutdown_timeout=10s nodes= count=0 cert= key=
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case $1 in
    --listen) listen="$listen $2" ;;
    --prefix) prefix=$2 ;;
    --workers) workers=$2 ;;
    --resolver) resolver=$2 ;;
    --any) any=$2 ;;
    --shutdown-timeout) shutdown_timeout=$2 ;;
    --tls-cert) cert=$2 ;;
    --tls-key) key=$2 ;;
    --node) nodes="$nodes $2"; count=$((count + 1)) ;;
    *) usage ;;
  esac
  shift 2
done
[ -n "$listen" ] && [ "$count" -gt 0 ] || usage
# a name in proxy_pass is resolved per request only through a resolver
[ -z "$any" ] || [ -n "$resolver" ] || usage
# a certificate goes with its key
[ -z "$cert" ] && [ -z "$key" ] || { [ -n "$cert" ] && [ -n "$key" ]; } || usage
# an nginx time: a number, with a unit or not (ms s m h d)
case $shutdown_timeout in
  '' | *[!0-9mshd]* | [!0-9]*) echo "$0: --shutdown-timeout must be an nginx time, e.g. 10s" >&2; exit 2 ;;
esac

# "0","1",... : the node list of /nodes and of the 421
node_list() {
  i=0 sep=
  while [ $i -lt "$count" ]; do printf '%s"%d"' "$sep" $i; sep=,; i=$((i + 1)); done
}
NODES=$(node_list)

cat <<EOF
# Written by deploy/nginx/sbx-nginx-conf.sh for $count sbxd nodes; write it again to change.
worker_processes $workers;
worker_shutdown_timeout $shutdown_timeout;
EOF
if [ -n "$prefix" ]; then
  cat <<EOF
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
EOF
fi
cat <<EOF

events {
    worker_connections 16384;
}

http {
    access_log off;
    server_tokens off;
EOF
if [ -n "$prefix" ]; then
  for t in client_body proxy fastcgi uwsgi scgi; do
    echo "    ${t}_temp_path $prefix/tmp/$t;"
  done
fi
cat <<EOF

    # A WebSocket upgrade is passed on; any other request keeps its upstream connection
    # alive (no Connection header) for the next one.
    map \$http_upgrade \$sbx_connection {
        default upgrade;
        ""      "";
    }

    # The node an id or a /nodes/N/ path names; "" for none.
    map \$uri \$sbx_node {
        default                              "";
        "~^/sandboxes/sbx_([0-9]{1,4})_"     \$1;
        "~^/nodes/([0-9]{1,4})(/|\$)"         \$1;
    }

    map \$sbx_node \$sbx_down_message {
        ""      "no sbxd node can be reached";
        default "sbxd node \$sbx_node is down";
    }

EOF

# Node N's target: an upstream group (addresses resolved at start), or, with a resolver,
# its address (a name resolved per request).
echo "    map \$sbx_node \$sbx_target {"
echo "        default \"\";"
i=0
for addr in $nodes; do
  if [ -n "$resolver" ]; then echo "        $i \"$addr\";"; else echo "        $i sbxd_node_$i;"; fi
  i=$((i + 1))
done
echo "    }"
echo

if [ -z "$resolver" ]; then
  i=0
  for addr in $nodes; do
    cat <<EOF
    upstream sbxd_node_$i {
        server $addr;
        keepalive 16;
    }
EOF
    i=$((i + 1))
  done
fi
# Creates: without --any, the node with the fewest connections in flight (ties in turn);
# one that refuses a connection is skipped for 5 s, and the create goes to the next.
if [ -z "$any" ]; then
  echo "    upstream sbxd_any {"
  echo "        least_conn;"
  for addr in $nodes; do
    echo "        server $addr max_fails=1 fail_timeout=5s;"
  done
  echo "        keepalive 32;"
  echo "    }"
  ANY_PASS=http://sbxd_any
else
  ANY_PASS='http://$sbx_any'
fi

if [ -n "$resolver" ]; then
  [ -n "$any" ] || echo
  printf '    resolver %s valid=5s ipv6=off;\n    resolver_timeout 2s;\n' "$resolver"
fi

cat <<EOF

    server {
EOF
ssl=
[ -z "$cert" ] || ssl=' ssl'
for addr in $listen; do printf '        listen %s%s;\n' "$addr" "$ssl"; done
if [ -n "$cert" ]; then
  cat <<EOF
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:sbx_tls:1m;
EOF
fi
cat <<EOF
        default_type application/json;
EOF
[ -z "$any" ] || printf '        # creates and the rest: %s, resolved per request\n        set $sbx_any "%s";\n' "$any" "$any"
cat <<EOF

        # Bodies (stdin) and answers (SSE, output frames) stream both ways; sbxd bounds
        # what it accepts (--max-body) and says so.
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;
        # Unbuffered, nginx moves a stream in reads of proxy_buffer_size: at the default
        # (one page) it spends several times the CPU per byte that 64k costs, and a
        # session holds two such buffers (one each way) for its life. proxy_buffers only
        # has to be large enough for nginx to accept the size (buffering is off).
        proxy_buffer_size 64k;
        proxy_buffers 4 64k;
        proxy_http_version 1.1;
        proxy_set_header Host \$host;
        proxy_set_header Upgrade \$http_upgrade;
        proxy_set_header Connection \$sbx_connection;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_connect_timeout 2s;
        # sbxd sends a keep-alive on every idle stream and session each --keepalive
        # seconds (15 by default): a stream is idle to nginx for no longer than that.
        proxy_read_timeout 120s;
        proxy_send_timeout 120s;
        send_timeout 120s;
        # A connection a client cut goes on to sbxd closed, as sbxd expects of a client.
        proxy_ignore_client_abort off;
        # sbxd's own statuses pass through; nginx's own 502 (no connection) is ours.
        proxy_intercept_errors off;
        error_page 502 504 = @down;

        location = /nodes {
            if (\$request_method != GET) { return 405 '{"error":{"kind":"InvalidArgumentError","message":"GET /nodes only"}}'; }
            return 200 '{"nodes":[$NODES]}';
        }

        location = /sandboxes {
            if (\$request_method = GET) {
                return 421 '{"error":{"kind":"InvalidArgumentError","message":"this URL fronts $count sbxd nodes: list each at /nodes/N/sandboxes"},"nodes":[$NODES]}';
            }
            proxy_pass $ANY_PASS;
        }

        location /sandboxes/ {
            if (\$sbx_target = "") {
                return 404 '{"error":{"kind":"NotFoundError","message":"no such sandbox: its id names no node here"}}';
            }
            proxy_pass http://\$sbx_target;
        }

        location /nodes/ {
            if (\$sbx_target = "") {
                return 404 '{"error":{"kind":"NotFoundError","message":"no such node"}}';
            }
            rewrite ^/nodes/[0-9]+(/.*)\$ \$1 break;
            proxy_pass http://\$sbx_target;
        }

        location / {
            proxy_pass $ANY_PASS;
        }

        location @down {
            return 502 '{"error":{"kind":"SandboxError","message":"\$sbx_down_message"}}';
        }
    }
}
EOF
