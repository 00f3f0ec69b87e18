#!/usr/bin/env bash
# Upstream TLS benchmark, side by side: lbproxy, nginx and HAProxy (Debian's packages), one
# worker/thread each, HTTP/1.1 keep-alive from wrk in the clear, and TLS with keep-alive to the
# same three backends (one nginx, TLS 1.3, a 14-byte body). Every proxy verifies the backend's
# certificate and name and resumes sessions. Rounds alternate between the proxies; the table
# shows medians of requests per second and the proxy's CPU per request, and the same proxies
# with cleartext backends in the same rounds, so the cost TLS adds is a difference measured
# side by side.
#
#   bench/load/upstream_tls.sh                 # 3 rounds x 8 s, 64 connections
#   ROUNDS=5 DURATION=10 CONNS=64 bench/load/upstream_tls.sh
#
# Everything listens on 127.0.0.1 (9201-9203 cleartext and 9231-9233 TLS backends, 8331-8336
# proxies).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}

"$ROOT/scripts/install-deps.sh" nginx haproxy wrk
"$ROOT/scripts/build.sh" release >/dev/null
BIN="$ROOT/build"

TMP=$(mktemp -d /tmp/lb-utls.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${KEEP:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT

# The backends' certificate is its own CA (self-signed, CA:TRUE), named backend.test.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=backend.test -addext subjectAltName=DNS:backend.test \
  -keyout "$TMP/backend.key" -out "$TMP/backend.crt" 2>/dev/null

mkdir -p "$TMP/backend"
cat >"$TMP/backend/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $TMP/backend/nginx.pid;
error_log $TMP/backend/error.log warn;
events { worker_connections 8000; }
http {
  access_log off;
  keepalive_requests 1000000;
  ssl_certificate $TMP/backend.crt;
  ssl_certificate_key $TMP/backend.key;
  ssl_protocols TLSv1.3;
  ssl_session_tickets on;
  server {
    listen 127.0.0.1:9201; listen 127.0.0.1:9202; listen 127.0.0.1:9203;
    listen 127.0.0.1:9231 ssl; listen 127.0.0.1:9232 ssl; listen 127.0.0.1:9233 ssl;
    location / { return 200 "hello, world!\n"; }
  }
}
CONF
nginx -p "$TMP/backend" -c "$TMP/backend/nginx.conf" &
pids+=($!)

lbproxy_config() {  # port first-backend-port tls-block
  cat <<YAML
workers: 1
listeners:
  - name: public
    listen: 127.0.0.1:$1
    routes: [{ cluster: app }]
clusters:
  - name: app
$3    hosts:
      - { id: b1, address: 127.0.0.1:$2 }
      - { id: b2, address: 127.0.0.1:$(($2 + 1)) }
      - { id: b3, address: 127.0.0.1:$(($2 + 2)) }
access_log: { enabled: false }
admin: { listen: 127.0.0.1:0 }
YAML
}
lbproxy_config 8331 9231 "    tls: { ca_file: $TMP/backend.crt, server_name: backend.test }
" >"$TMP/lbproxy-tls.yaml"
lbproxy_config 8334 9201 "" >"$TMP/lbproxy-plain.yaml"
"$BIN/proxy/lbproxy" -c "$TMP/lbproxy-tls.yaml" >"$TMP/lbproxy-tls.log" 2>&1 &
pids+=($!)
LB_TLS_PID=$!
"$BIN/proxy/lbproxy" -c "$TMP/lbproxy-plain.yaml" >"$TMP/lbproxy-plain.log" 2>&1 &
pids+=($!)
LB_PLAIN_PID=$!

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
  upstream tls_app {
    server 127.0.0.1:9231; server 127.0.0.1:9232; server 127.0.0.1:9233;
    keepalive 128;
    keepalive_requests 1000000;
  }
  upstream plain_app {
    server 127.0.0.1:9201; server 127.0.0.1:9202; server 127.0.0.1:9203;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:8332;
    location / {
      proxy_pass https://tls_app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate $TMP/backend.crt;
      proxy_ssl_name backend.test;
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;  # 1.22 offers up to 1.2 by default
    }
  }
  server {
    listen 127.0.0.1:8335;
    location / {
      proxy_pass http://plain_app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
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
  maxconn 8000
defaults
  mode http
  timeout connect 1s
  timeout client 120s
  timeout server 30s
  timeout http-keep-alive 120s
  option http-keep-alive
  http-reuse always
frontend tls_front
  bind 127.0.0.1:8333
  default_backend tls_app
frontend plain_front
  bind 127.0.0.1:8336
  default_backend plain_app
backend tls_app
  balance roundrobin
  default-server ssl verify required ca-file $TMP/backend.crt sni str(backend.test) verifyhost backend.test alpn http/1.1
  server b1 127.0.0.1:9231
  server b2 127.0.0.1:9232
  server b3 127.0.0.1:9233
backend plain_app
  balance roundrobin
  server b1 127.0.0.1:9201
  server b2 127.0.0.1:9202
  server b3 127.0.0.1:9203
CONF
haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
pids+=($!)
HAPROXY_PID=$!

sleep 1.5
NGINX_PID=$(pgrep -P "$NGINX_MASTER" | head -1)  # the worker does the proxying
declare -A PORT=([lbproxy]=8331 [nginx]=8332 [haproxy]=8333
                 [lbproxy-plain]=8334 [nginx-plain]=8335 [haproxy-plain]=8336)
declare -A PID=([lbproxy]=$LB_TLS_PID [nginx]=$NGINX_PID [haproxy]=$HAPROXY_PID
                [lbproxy-plain]=$LB_PLAIN_PID [nginx-plain]=$NGINX_PID [haproxy-plain]=$HAPROXY_PID)
NAMES=(lbproxy nginx haproxy lbproxy-plain nginx-plain haproxy-plain)
for name in "${NAMES[@]}"; do
  body=$(curl -fsS "http://127.0.0.1:${PORT[$name]}/") || { echo "$name does not answer" >&2; exit 1; }
  [[ "$body" == "hello, world!" ]] || { echo "$name answered: $body" >&2; exit 1; }
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
TICK=$(getconf CLK_TCK)

echo "lb upstream TLS benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
echo "wrk -c$CONNS keep-alive in the clear; TLS 1.3 keep-alive to the backends; ${DURATION}s, $ROUNDS rounds"
declare -A RPS CPU
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r"
  for name in "${NAMES[@]}"; do
    port=${PORT[$name]} pid=${PID[$name]}
    wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$port/" >/dev/null  # warm-up (and the pools)
    c0=$(cpu_ticks "$pid")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/")
    c1=$(cpu_ticks "$pid")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
    [[ -z "$errors" ]] || echo "  $name: $errors" >&2
    us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$requests" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
    RPS[$name]+="$rps " CPU[$name]+="$us "
    printf '  %-14s %10s req/s  cpu %6s us/req\n' "$name" "$rps" "$us"
  done
done

echo
echo "| proxy | TLS upstream req/s | CPU us/req | cleartext upstream req/s | CPU us/req | TLS adds us/req |"
echo "|---|---|---|---|---|---|"
declare -A M_RPS M_CPU
for name in "${NAMES[@]}"; do
  M_RPS[$name]=$(median "${RPS[$name]}")
  M_CPU[$name]=$(median "${CPU[$name]}")
done
for name in lbproxy nginx haproxy; do
  added=$(awk -v a="${M_CPU[$name]}" -v b="${M_CPU[$name-plain]}" 'BEGIN { printf "%.2f", a - b }')
  echo "| $name | ${M_RPS[$name]} | ${M_CPU[$name]} | ${M_RPS[$name-plain]} | ${M_CPU[$name-plain]} | $added |"
done
echo
for peer in nginx haproxy; do
  awk -v p="$peer" -v c="${M_CPU[lbproxy]}" -v pc="${M_CPU[$peer]}" -v r="${M_RPS[lbproxy]}" -v pr="${M_RPS[$peer]}" \
    'BEGIN { printf "lbproxy vs %s with TLS upstreams: req/s x%.2f, CPU per request x%.2f\n", p, r / pr, c / pc }'
done
