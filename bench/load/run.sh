#!/usr/bin/env bash
# Side-by-side load benchmark: lbproxy, nginx and HAProxy (Debian's packages) in front of the
# same three backends, one worker/thread each, upstream keep-alive. First idle keep-alive
# connection memory per proxy (on fresh processes). Then HTTP/1.1 with wrk, keep-alive:
# rounds alternate between the proxies so machine noise hits all alike; the table shows
# medians over the rounds and lbproxy's ratios, and lbproxy with 2 workers. Then TLS: keep-alive requests over TLS and
# HTTP/2 over TLS (h2load -c16 -m10), and handshakes per second (openssl s_time, full and
# resumed) with the proxies' CPU per request and per handshake.
#
#   bench/load/run.sh                 # 3 rounds x 8 s, 64 connections, 5000 idle connections
#   ROUNDS=5 DURATION=10 CONNS=64 IDLE=5000 bench/load/run.sh
#   SECTIONS="http1 idle" bench/load/run.sh   # some of: http1 tls idle (default all)
#
# Everything listens on 127.0.0.1 (ports 9201-9203 backends, 8301-8304 proxies).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
IDLE=${IDLE:-5000}
SECTIONS=${SECTIONS:-http1 tls idle}
section() { [[ " $SECTIONS " == *" $1 "* ]]; }

"$ROOT/scripts/install-deps.sh" nginx haproxy wrk nghttp2-client
"$ROOT/scripts/build.sh" release >/dev/null
BIN="$ROOT/build"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 5000 idle connections need fds

TMP=$(mktemp -d /tmp/lb-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- backends: one nginx, three ports, a 14-byte body ---------------------------------------
mkdir -p "$TMP/nginx"
# shellcheck source=bench/load/backends.sh
source "$ROOT/bench/load/backends.sh"
start_backends "$TMP/backend"

# --- the proxies ---------------------------------------------------------------------------
# One P-256 certificate for the TLS listeners of all three (ports 8311-8313).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null
cat "$TMP/tls.crt" "$TMP/tls.key" >"$TMP/tls.pem"  # HAProxy wants both in one file

lbproxy_config() {  # port workers [tls-port]
  cat <<YAML
workers: $2
listeners:
  - name: public
    listen: 127.0.0.1:$1
    routes: [{ cluster: app }]
YAML
  if [[ -n "${3:-}" ]]; then
    cat <<YAML
  - name: tls
    listen: 127.0.0.1:$3
    tls: { certificates: [{ cert: $TMP/tls.crt, key: $TMP/tls.key }] }
    http2: { max_requests_per_connection: 100000000 }  # as nginx's keepalive_requests below
    routes: [{ cluster: app }]
YAML
  fi
  cat <<YAML
clusters:
  - name: app
    hosts:
      - { id: b1, address: 127.0.0.1:9201 }
      - { id: b2, address: 127.0.0.1:9202 }
      - { id: b3, address: 127.0.0.1:9203 }
access_log: { enabled: false }
admin: { listen: 127.0.0.1:0 }
YAML
}
lbproxy_config 8301 1 8311 >"$TMP/lbproxy1.yaml"
lbproxy_config 8304 2 >"$TMP/lbproxy2.yaml"
"$BIN/proxy/lbproxy" -c "$TMP/lbproxy1.yaml" >"$TMP/lbproxy1.log" 2>&1 &
pids+=($!)
LBPROXY1_PID=$!
"$BIN/proxy/lbproxy" -c "$TMP/lbproxy2.yaml" >"$TMP/lbproxy2.log" 2>&1 &
pids+=($!)
LBPROXY2_PID=$!

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
  ssl_certificate $TMP/tls.crt;
  ssl_certificate_key $TMP/tls.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen 127.0.0.1:8302;
    listen 127.0.0.1:8312 ssl http2;
    location / {
      proxy_pass http://app;
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
frontend public
  bind 127.0.0.1:8303
  bind 127.0.0.1:8313 ssl crt $TMP/tls.pem alpn h2,http/1.1
  default_backend app
backend app
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
for port in 9201 8301 8302 8303 8304; do
  curl -fsS "http://127.0.0.1:$port/" >/dev/null || { echo "port $port does not answer" >&2; exit 1; }
done
for port in 8311 8312 8313; do
  curl -kfsS "https://127.0.0.1:$port/" >/dev/null || { echo "port $port does not answer" >&2; exit 1; }
done

# --- measurement ---------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
user_ticks() { awk '{print $14}' "/proc/$1/stat"; }  # the rest of cpu_ticks is the kernel's
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)

declare -A PORT=([lbproxy]=8301 [nginx]=8302 [haproxy]=8303 [lbproxy-2w]=8304)
declare -A PID=([lbproxy]=$LBPROXY1_PID [nginx]=$NGINX_PID [haproxy]=$HAPROXY_PID [lbproxy-2w]=$LBPROXY2_PID)
NAMES=(lbproxy nginx haproxy lbproxy-2w)
declare -A RPS P50 P99 CPU USR KRN

to_ms() {  # wrk latency "812.00us" / "1.20ms" / "1.01s" -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

measure() {  # name
  local name=$1 port=${PORT[$1]} pid=${PID[$1]}
  wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$port/" >/dev/null  # warm-up
  local c0 c1 u0 u1 out
  c0=$(cpu_ticks "$pid") u0=$(user_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/")
  c1=$(cpu_ticks "$pid") u1=$(user_ticks "$pid")
  local rps requests p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
  [[ -z "$errors" ]] || echo "  $name: $errors" >&2
  local us usr
  us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$requests" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  usr=$(awk -v d=$((u1 - u0)) -v t="$TICK" -v n="$requests" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  RPS[$name]+="$rps " P50[$name]+="$p50 " P99[$name]+="$p99 " CPU[$name]+="$us " USR[$name]+="$usr "
  KRN[$name]+="$(awk -v c="$us" -v u="$usr" 'BEGIN { printf "%.2f", c - u }') "
  printf '  %-11s %10s req/s  p50 %7s ms  p99 %7s ms  cpu %6s us/req (user %5s)\n' \
    "$name" "$rps" "$p50" "$p99" "$us" "$usr"
}

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "lb load benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"

# --- idle keep-alive connections -----------------------------------------------------------
# First, while the proxies are fresh: after the load runs, freed memory would be reused and
# all three would show ~0.
if section idle; then
echo
echo "idle keep-alive client connections ($IDLE, one request each), proxy RSS growth:"
for name in lbproxy nginx haproxy; do
  port=${PORT[$name]} pid=${PID[$name]}
  before=$(rss_kib "$pid")
  coproc HOLD { "$BIN/bench/load/idle-conns" "$port" "$IDLE"; }
  read -r line <&"${HOLD[0]}" || true
  if [[ "$line" != ready* ]]; then
    echo "  $name: idle-conns failed" >&2
  else
    after=$(rss_kib "$pid")
    awk -v n="$name" -v a="$before" -v b="$after" -v c="$IDLE" \
      'BEGIN { printf "  %-8s %6d KiB -> %6d KiB: %5.0f bytes per connection\n", n, a, b, (b - a) * 1024 / c }'
  fi
  exec {HOLD[1]}>&-
  wait "$HOLD_PID" 2>/dev/null || true
  sleep 0.5
done
fi

if section http1; then
echo "wrk -t1 -c$CONNS -d${DURATION}s, keep-alive, GET / -> 14-byte body, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r"
  for name in "${NAMES[@]}"; do measure "$name"; done
done

echo
echo "| proxy | req/s | p50 ms | p99 ms | proxy CPU us/req | of which user space | of which kernel |"
echo "|---|---|---|---|---|---|---|"
declare -A M_RPS M_CPU M_P99 M_USR
for name in "${NAMES[@]}"; do
  M_RPS[$name]=$(median "${RPS[$name]}")
  M_CPU[$name]=$(median "${CPU[$name]}")
  M_P99[$name]=$(median "${P99[$name]}")
  M_USR[$name]=$(median "${USR[$name]}")
  echo "| $name | ${M_RPS[$name]} | $(median "${P50[$name]}") | ${M_P99[$name]} | ${M_CPU[$name]} | ${M_USR[$name]} | $(median "${KRN[$name]}") |"
done
echo
for peer in nginx haproxy; do
  awk -v a="${M_RPS[lbproxy]}" -v b="${M_RPS[$peer]}" -v ca="${M_CPU[lbproxy]}" -v cb="${M_CPU[$peer]}" \
    -v pa="${M_P99[lbproxy]}" -v pb="${M_P99[$peer]}" -v p="$peer" \
    -v ua="${M_USR[lbproxy]}" -v ub="${M_USR[$peer]}" \
    'BEGIN { printf "lbproxy / %s: req/s x%.2f, CPU per request x%.2f (user space x%.2f), p99 x%.2f\n", p, a / b, ca / cb, (ub > 0 ? ua / ub : 0), pa / pb }'
done
fi

# --- TLS: keep-alive HTTP/1.1 over TLS, and handshakes with and without resumption ---------
declare -A TPORT=([lbproxy]=8311 [nginx]=8312 [haproxy]=8313)
declare -A T_RPS T_CPU HS_NEW HS_NEW_CPU HS_REUSE HS_REUSE_CPU H2_RPS H2_CPU
H2N=${H2N:-200000}
handshakes() {  # name mode(-new|-reuse) -> "per-second cpu-us-per-handshake"
  local port=${TPORT[$1]} pid=${PID[$1]} c0 c1 out n secs
  c0=$(cpu_ticks "$pid")
  # TLS 1.2: s_time takes the session for -reuse before a TLS 1.3 ticket arrives, so with
  # 1.3 it never resumes.
  out=$(openssl s_time -connect "127.0.0.1:$port" "$2" -tls1_2 -time "$HS_TIME" 2>/dev/null)
  c1=$(cpu_ticks "$pid")
  n=$(awk '/connections in .* real seconds/ {print $1}' <<<"$out" | tail -1)
  secs=$(awk '/connections in .* real seconds/ {print $4}' <<<"$out" | tail -1)
  awk -v n="${n:-0}" -v s="${secs:-1}" -v d=$((c1 - c0)) -v t="$TICK" \
    'BEGIN { if (n == 0) { print "0 0"; exit } printf "%.0f %.1f\n", n / s, d / t * 1e6 / n }'
}
HS_TIME=${HS_TIME:-4}
if section tls; then
echo
echo "TLS (P-256 ECDSA certificate): wrk over https (TLS 1.3), keep-alive; openssl s_time TLS 1.2 handshakes, full and resumed by ticket"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r"
  for name in lbproxy nginx haproxy; do
    port=${TPORT[$name]} pid=${PID[$name]}
    wrk -t1 -c"$CONNS" -d1s "https://127.0.0.1:$port/" >/dev/null
    c0=$(cpu_ticks "$pid")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:$port/")
    c1=$(cpu_ticks "$pid")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$requests" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
    # HTTP/2 over TLS: h2load, 16 connections x 10 concurrent streams.
    c0=$(cpu_ticks "$pid")
    out=$(h2load -n "$H2N" -c 16 -m 10 "https://127.0.0.1:$port/" 2>&1)
    c1=$(cpu_ticks "$pid")
    h2rps=$(awk '/^finished in/ {print $4}' <<<"$out")
    h2ok=$(awk '/^requests:/ {print $8}' <<<"$out")
    [[ "$h2ok" == "$H2N" ]] || echo "  $name: h2load: $(grep '^requests:' <<<"$out")" >&2
    h2us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$H2N" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
    H2_RPS[$name]+="$h2rps " H2_CPU[$name]+="$h2us "
    read -r hn hnc < <(handshakes "$name" -new)
    read -r hr hrc < <(handshakes "$name" -reuse)
    T_RPS[$name]+="$rps " T_CPU[$name]+="$us " HS_NEW[$name]+="$hn " HS_NEW_CPU[$name]+="$hnc "
    HS_REUSE[$name]+="$hr " HS_REUSE_CPU[$name]+="$hrc "
    printf '  %-8s %10s req/s  cpu %6s us/req | h2 %10s req/s cpu %6s us/req | full handshakes %6s/s (%s us cpu) | resumed %6s/s (%s us cpu)\n' \
      "$name" "$rps" "$us" "$h2rps" "$h2us" "$hn" "$hnc" "$hr" "$hrc"
  done
done
echo
echo "| proxy | https req/s | CPU us/req | h2 req/s (h2load -c16 -m10) | h2 CPU us/req | full handshakes/s | CPU us/handshake | resumed/s | CPU us/resumed |"
echo "|---|---|---|---|---|---|---|---|---|"
for name in lbproxy nginx haproxy; do
  echo "| $name | $(median "${T_RPS[$name]}") | $(median "${T_CPU[$name]}") | $(median "${H2_RPS[$name]}") | $(median "${H2_CPU[$name]}") | $(median "${HS_NEW[$name]}") | $(median "${HS_NEW_CPU[$name]}") | $(median "${HS_REUSE[$name]}") | $(median "${HS_REUSE_CPU[$name]}") |"
done
fi
