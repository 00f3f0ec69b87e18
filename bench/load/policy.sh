#!/usr/bin/env bash
# The cost of traffic policy on the request path, side by side with nginx: a plain route
# against one with a header match and a per-client rate limit (high enough that nothing is
# refused, so every request pays the decision and is proxied). One worker each, in front of
# the same nginx backends (bench/load/backends.sh); wrk sends the header to both routes. Rounds
# alternate between the four (proxy x route) so noise hits all alike; prints CPU per request
# per round, then medians and the policy/plain ratio of each proxy. Then lbproxy's
# instructions per request on each route under callgrind (not noisy: the figure to judge by).
#
#   bench/load/policy.sh                 # 3 rounds x 8 s, 64 connections
#   ROUNDS=5 DURATION=10 CONNS=64 bench/load/policy.sh
#
# Everything listens on 127.0.0.1 (9201-9203 backends, 8331 lbproxy, 8332 nginx).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}

"$ROOT/scripts/install-deps.sh" nginx wrk valgrind
"$ROOT/scripts/build.sh" release >/dev/null
BIN="$ROOT/build"

TMP=$(mktemp -d /tmp/lb-policy.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=bench/load/backends.sh
source "$ROOT/bench/load/backends.sh"
start_backends "$TMP/backend"

cat >"$TMP/lbproxy.yaml" <<YAML
workers: 1
listeners:
  - name: public
    listen: 127.0.0.1:8331
    routes:
      - name: plain
        match: { path_prefix: /plain }
        cluster: app
      - name: policy
        match:
          path_prefix: /policy
          headers: [{ name: X-Tenant, exact: shop }]
        cluster: app
        rate_limit: { rate: 100000000/s, key: client_address }
clusters:
  - name: app
    hosts:
      - { id: b1, address: 127.0.0.1:9201 }
      - { id: b2, address: 127.0.0.1:9202 }
      - { id: b3, address: 127.0.0.1:9203 }
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
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 8000; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream app {
    server 127.0.0.1:9201; server 127.0.0.1:9202; server 127.0.0.1:9203;
    keepalive 128;
    keepalive_requests 1000000;
  }
  limit_req_zone \$binary_remote_addr zone=per_client:10m rate=100000000r/s;
  map \$http_x_tenant \$tenant { default 0; shop 1; }
  server {
    listen 127.0.0.1:8332;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /plain { proxy_pass http://app; }
    location /policy {
      if (\$tenant = 0) { return 404; }
      limit_req zone=per_client burst=1000000 nodelay;
      proxy_pass http://app;
    }
  }
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
pids+=($!)
NGINX_MASTER=$!

sleep 1.5
NGINX_PID=$(pgrep -P "$NGINX_MASTER" | head -1)
declare -A PORT=([lbproxy]=8331 [nginx]=8332)
declare -A PID=([lbproxy]=$LBPROXY_PID [nginx]=$NGINX_PID)
for name in lbproxy nginx; do
  for path in plain policy; do
    curl -fsS -H 'X-Tenant: shop' -o /dev/null "http://127.0.0.1:${PORT[$name]}/$path" ||
      { echo "$name /$path does not answer" >&2; exit 1; }
  done
  # The policy route really matches on the header.
  code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$name]}/policy")
  [[ "$code" == 404 ]] || { echo "$name /policy without the header: $code, not 404" >&2; exit 1; }
done

# shellcheck source=bench/load/measure.sh
source "$ROOT/bench/load/measure.sh"
declare -A CPU RPS
measure() {  # proxy path
  local key="$1 $2" url="http://127.0.0.1:${PORT[$1]}/$2" pid=${PID[$1]} c0 c1 out
  wrk -t1 -c"$CONNS" -d1s -H 'X-Tenant: shop' "$url" >/dev/null
  c0=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'X-Tenant: shop' "$url")
  c1=$(cpu_ticks "$pid")
  local rps requests us
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  grep -E "Non-2xx|Socket errors" <<<"$out" >&2 || true
  us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$requests" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  CPU[$key]+="$us " RPS[$key]+="$rps "
  printf '  %-8s /%-7s %10s req/s  cpu %6s us/req\n' "$1" "$2" "$rps" "$us"
}

echo "policy benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r"
  # The order turns each round so no route always runs right after the other.
  if ((r % 2)); then order="plain policy"; else order="policy plain"; fi
  for name in lbproxy nginx; do for path in $order; do measure "$name" "$path"; done; done
done
echo
echo "| proxy | plain req/s | plain CPU us/req | header match + rate limit req/s | CPU us/req | policy / plain CPU |"
echo "|---|---|---|---|---|---|"
for name in lbproxy nginx; do
  a=$(median "${CPU[$name plain]}") b=$(median "${CPU[$name policy]}")
  echo "| $name | $(median "${RPS[$name plain]}") | $a | $(median "${RPS[$name policy]}") | $b | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "x%.3f", b / a }') |"
done

# --- lbproxy's instructions per request on each route, under callgrind ----------------------
sed 's/127.0.0.1:8331/127.0.0.1:8333/' "$TMP/lbproxy.yaml" >"$TMP/lbproxy-cg.yaml"
declare -A IR
for path in plain policy; do
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/callgrind.$path" \
    "$BIN/proxy/lbproxy" -c "$TMP/lbproxy-cg.yaml" >"$TMP/lbproxy-cg.log" 2>&1 &
  cg=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:8333/plain" 2>/dev/null && break; sleep 0.2; done
  wrk -t1 -c16 -d2s -H 'X-Tenant: shop' "http://127.0.0.1:8333/$path" >/dev/null  # warm-up
  callgrind_control -i on "$cg" >/dev/null
  out=$(wrk -t1 -c16 -d5s -H 'X-Tenant: shop' "http://127.0.0.1:8333/$path")
  callgrind_control -i off "$cg" >/dev/null
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  kill -TERM "$cg"
  wait "$cg" 2>/dev/null || true
  IR[$path]=$(awk -v t="$(awk '/^totals:/ {print $2}' "$TMP/callgrind.$path")" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
done
echo
echo "lbproxy instructions per request (callgrind): plain ${IR[plain]}, header match + rate limit ${IR[policy]}: $(awk -v a="${IR[plain]}" -v b="${IR[policy]}" 'BEGIN { printf "x%.3f", b / a }')"
