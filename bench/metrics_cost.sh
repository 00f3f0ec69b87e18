#!/usr/bin/env bash
# What per-route/per-host statistics cost on the request path: requests per second through
# lbproxy with metrics on and off, side by side in one run (alternating rounds, same demo
# backend), so machine noise hits both alike. Prints each round and the medians.
#   bench/metrics_cost.sh [build-dir] [rounds] [seconds-per-round]
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${2:-7}
SECS=${3:-5}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
TMP=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

config() {  # name port metrics-enabled
  cat >"$TMP/$1.yaml" <<YAML
workers: 1
listeners:
  - name: public
    listen: 127.0.0.1:$2
    routes: [{ cluster: app }]
clusters:
  - name: app
    hosts: [{ id: d1, address: 127.0.0.1:9191 }]
access_log: { enabled: false }
admin: { listen: 127.0.0.1:0 }
metrics: { enabled: $3 }
YAML
}
config on 8191 true
config off 8192 false
"$BUILD/deploy/demo/demo-instance" --port 9191 --instance d1 --latency-scale 0 >/dev/null 2>&1 &
pids+=($!)
"$BUILD/proxy/lbproxy" -c "$TMP/on.yaml" >/dev/null 2>&1 &
pids+=($!)
"$BUILD/proxy/lbproxy" -c "$TMP/off.yaml" >/dev/null 2>&1 &
pids+=($!)
sleep 1

rps() { wrk -t1 -c32 -d"${SECS}s" "http://127.0.0.1:$1/api/products" | awk '/Requests\/sec/ {print $2}'; }
on=() off=()
for ((i = 1; i <= ROUNDS; i++)); do
  a=$(rps 8191) b=$(rps 8192)
  on+=("$a") off+=("$b")
  echo "round $i: metrics on $a req/s, off $b req/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mon=$(median "${on[@]}") moff=$(median "${off[@]}")
echo "median: on $mon, off $moff, on/off $(awk -v a="$mon" -v b="$moff" 'BEGIN {printf "%.3f", a/b}')"
