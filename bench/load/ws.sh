#!/usr/bin/env bash
# WebSocket benchmark, side by side: lbproxy, nginx and HAProxy (Debian's packages), one
# worker/thread each, in front of the same echo server (ws-bench server). First the proxies'
# memory per idle WebSocket tunnel (fresh processes), then echo round trips (CONNS WebSockets,
# each sending a 64-byte masked text message and waiting for its echo), rounds alternating
# between the proxies: messages per second and the proxy's CPU per message (medians).
#
#   bench/load/ws.sh                          # 3 rounds x 8 s, 64 connections, 2000 idle
#   ROUNDS=5 DURATION=10 CONNS=64 IDLE=5000 bench/load/ws.sh
#
# Everything listens on 127.0.0.1 (9211 echo server, 8321-8323 proxies).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
IDLE=${IDLE:-2000}

"$ROOT/scripts/install-deps.sh" nginx haproxy
"$ROOT/scripts/build.sh" release >/dev/null
BIN="$ROOT/build"
WS="$BIN/bench/load/ws-bench"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/lb-ws.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$WS" server 9211 &
pids+=($!)

cat >"$TMP/lbproxy.yaml" <<YAML
workers: 1
listeners:
  - name: public
    listen: 127.0.0.1:8321
    routes: [{ cluster: app }]
clusters:
  - name: app
    hosts: [{ id: ws, address: 127.0.0.1:9211 }]
access_log: { enabled: false }
admin: { listen: 127.0.0.1:0 }
YAML
"$BIN/proxy/lbproxy" -c "$TMP/lbproxy.yaml" >"$TMP/lbproxy.log" 2>&1 &
pids+=($!)
LBPROXY_PID=$!

mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
worker_rlimit_nofile 19000;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 9000; }
http {
  access_log off;
  server {
    listen 127.0.0.1:8322;
    location / {
      proxy_pass http://127.0.0.1:9211;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 1h;
    }
  }
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
pids+=($!)
NGINX_MASTER=$!

cat >"$TMP/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 1s
  timeout client 120s
  timeout server 30s
  timeout tunnel 1h
frontend public
  bind 127.0.0.1:8323
  default_backend app
backend app
  server ws 127.0.0.1:9211
CONF
haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
pids+=($!)
HAPROXY_PID=$!

sleep 1.5
NGINX_PID=$(pgrep -P "$NGINX_MASTER" | head -1)  # the worker does the proxying
declare -A PORT=([lbproxy]=8321 [nginx]=8322 [haproxy]=8323)
declare -A PID=([lbproxy]=$LBPROXY_PID [nginx]=$NGINX_PID [haproxy]=$HAPROXY_PID)
NAMES=(lbproxy nginx haproxy)
for name in "${NAMES[@]}"; do
  "$WS" client "${PORT[$name]}" 1 1 >/dev/null || { echo "$name does not tunnel" >&2; exit 1; }
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
TICK=$(getconf CLK_TCK)

echo "lb WebSocket benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
echo
echo "idle WebSocket tunnels ($IDLE), proxy RSS growth:"
declare -A IDLE_BYTES
for name in "${NAMES[@]}"; do
  before=$(rss_kib "${PID[$name]}")
  coproc HOLD { "$WS" idle "${PORT[$name]}" "$IDLE"; }
  read -r line <&"${HOLD[0]}" || true
  if [[ "$line" != ready* ]]; then
    echo "  $name: ws-bench idle failed" >&2
  else
    after=$(rss_kib "${PID[$name]}")
    IDLE_BYTES[$name]=$(awk -v a="$before" -v b="$after" -v c="$IDLE" 'BEGIN { printf "%.0f", (b - a) * 1024 / c }')
    printf '  %-8s %6d KiB -> %6d KiB: %5s bytes per tunnel\n' "$name" "$before" "$after" "${IDLE_BYTES[$name]}"
  fi
  exec {HOLD[1]}>&-
  wait "$HOLD_PID" 2>/dev/null || true
  sleep 0.5
done

echo
echo "echo round trips: $CONNS WebSockets, 64-byte messages, ${DURATION}s, $ROUNDS rounds"
declare -A MPS CPU
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r"
  for name in "${NAMES[@]}"; do
    pid=${PID[$name]}
    c0=$(cpu_ticks "$pid")
    out=$("$WS" client "${PORT[$name]}" "$CONNS" "$DURATION")
    c1=$(cpu_ticks "$pid")
    read -r _ messages _ seconds <<<"$out"
    mps=$(awk -v m="$messages" -v s="$seconds" 'BEGIN { printf "%.0f", m / s }')
    us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v m="$messages" 'BEGIN { printf "%.2f", d / t * 1e6 / m }')
    MPS[$name]+="$mps " CPU[$name]+="$us "
    printf '  %-8s %9s messages/s  cpu %6s us/message\n' "$name" "$mps" "$us"
  done
done

echo
echo "| proxy | messages/s | proxy CPU us/message | bytes per idle tunnel |"
echo "|---|---|---|---|"
declare -A M_MPS M_CPU
for name in "${NAMES[@]}"; do
  M_MPS[$name]=$(median "${MPS[$name]}")
  M_CPU[$name]=$(median "${CPU[$name]}")
  echo "| $name | ${M_MPS[$name]} | ${M_CPU[$name]} | ${IDLE_BYTES[$name]:-?} |"
done
echo
for peer in nginx haproxy; do
  awk -v p="$peer" -v m="${M_MPS[lbproxy]}" -v pm="${M_MPS[$peer]}" -v c="${M_CPU[lbproxy]}" -v pc="${M_CPU[$peer]}" \
    'BEGIN { printf "lbproxy vs %s: messages/s x%.2f, CPU per message x%.2f\n", p, m / pm, c / pc }'
done
