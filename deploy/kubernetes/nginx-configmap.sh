#!/bin/sh
# Writes, on stdout, the ConfigMap of nginx's configuration for N sbxd nodes (pods sbxd-0
# to sbxd-(N-1) of the StatefulSet), by deploy/nginx/sbx-nginx-conf.sh:
#
#   nginx-configmap.sh [--namespace NS] N > nginx-configmap.yaml
#   nginx-configmap.sh --check [FILE]    whether FILE (default: nginx-configmap.yaml here)
#                                        is what the line above writes now, for the N and
#                                        namespace FILE holds; exit 0 if so, 1 (and the
#                                        difference) if not
#
# nginx resolves every name per request through kube-dns: node N is
# sbxd-N.sbxd.NS.svc.cluster.local (the StatefulSet's headless Service), and creates go
# to sbxd-ready.NS.svc.cluster.local (the Service of the ready pods).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
GEN=$here/../nginx/sbx-nginx-conf.sh
PORT=8080
RESOLVER=kube-dns.kube-system.svc.cluster.local

usage() {
  echo "usage: $0 [--namespace NS] N | --check [FILE]" >&2
  exit 2
}

configmap() { # NS N
  ns=$1 n=$2
  nodes=
  i=0
  while [ $i -lt "$n" ]; do
    nodes="$nodes --node sbxd-$i.sbxd.$ns.svc.cluster.local:$PORT"
    i=$((i + 1))
  done
  cat <<YAML
# Written by deploy/kubernetes/nginx-configmap.sh for $n sbxd nodes; write it again to
# change (and restart the sbx-nginx Deployment). The StatefulSet's replicas must be $n.
apiVersion: v1
kind: ConfigMap
metadata:
  name: sbx-nginx
  namespace: $ns
  labels:
    app.kubernetes.io/name: sbx-nginx
    app.kubernetes.io/part-of: sbx
  annotations:
    sbx-nodes: "$n"
data:
  nginx.conf: |
YAML
  # shellcheck disable=SC2086 # one --node ADDR pair per node
  "$GEN" --listen $PORT --workers 2 --resolver $RESOLVER --any "sbxd-ready.$ns.svc.cluster.local:$PORT" $nodes |
    sed 's/^./    &/'
}

check() { # FILE
  file=$1
  [ -r "$file" ] || { echo "nginx-configmap.sh: cannot read $file" >&2; exit 2; }
  n=$(sed -n 's/^    sbx-nodes: "\([0-9]*\)"$/\1/p' "$file")
  ns=$(sed -n 's/^  namespace: \(.*\)$/\1/p' "$file")
  [ -n "$n" ] && [ -n "$ns" ] || { echo "nginx-configmap.sh: $file names no sbx-nodes or namespace" >&2; exit 1; }
  want=$(mktemp)
  trap 'rm -f "$want"' EXIT
  configmap "$ns" "$n" >"$want"
  if cmp -s "$want" "$file"; then
    echo "$file is what nginx-configmap.sh --namespace $ns $n writes"
  else
    echo "$file is not what nginx-configmap.sh --namespace $ns $n writes now:" >&2
    diff -u "$file" "$want" >&2 || true
    exit 1
  fi
}

whole_number() {
  case $1 in '' | *[!0-9]* | 0?*) return 1 ;; esac
  [ "$1" -ge 1 ] && [ "$1" -le 10000 ]
}

case ${1:-} in
  --check)
    [ $# -le 2 ] || usage
    check "${2:-$here/nginx-configmap.yaml}"
    ;;
  --namespace)
    [ $# -eq 3 ] && whole_number "$3" || usage
    configmap "$2" "$3"
    ;;
  *)
    [ $# -eq 1 ] && whole_number "$1" || usage
    configmap sbx "$1"
    ;;
esac
