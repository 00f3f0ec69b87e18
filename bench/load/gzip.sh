#!/usr/bin/env bash
# Response compression side by side: lbproxy (`compression`) and nginx (`gzip on`) at the same
# gzip level, one worker each, in front of one nginx backend serving a 100 KiB HTML page
# uncompressed. wrk asks for gzip; rounds alternate between the two so machine noise hits both
# alike. Prints req/s, the proxy's CPU per request and the coded size each one sends, then the
# medians and lbproxy's ratios. Then brotli on lbproxy alone (Debian's nginx has no brotli).
#
#   bench/load/gzip.sh                  # level 6, 3 rounds x 8 s, 16 connections
#   LEVEL=1 ROUNDS=5 DURATION=10 CONNS=16 bench/load/gzip.sh
#
# Everything listens on 127.0.0.1 (9211 backend, 8321 lbproxy, 8322 nginx).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-16}
LEVEL=${LEVEL:-6}

"$ROOT/scripts/install-deps.sh" nginx wrk
"$ROOT/scripts/build.sh" release >/dev/null
BIN="$ROOT/build"

TMP=$(mktemp -d /tmp/lb-gzip.XXXXXX)
chmod 755 "$TMP"  # nginx's workers (not root) read the page
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# A page of an e-commerce listing: repeated markup with varying numbers, ~100 KiB.
mkdir -p "$TMP/www" "$TMP/backend" "$TMP/nginx"
awk 'BEGIN { srand(7); print "<!doctype html><html><body><ul>";
  for (i = 0; i < 1100; i++)
    printf "<li class=\"product\" data-id=\"%d\"><a href=\"/p/%d\">Item %d</a> <span class=\"price\">%.2f</span></li>\n",
      i, int(rand() * 100000), i, rand() * 500;
  print "</ul></body></html>" }' >"$TMP/www/index.html"
PAGE_BYTES=$(stat -c %s "$TMP/www/index.html")

cat >"$TMP/backend/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $TMP/backend/nginx.pid;
error_log $TMP/backend/error.log warn;
events { worker_connections 4000; }
http {
  access_log off;
  keepalive_requests 1000000;
  types { text/html html; }
  server { listen 127.0.0.1:9211; root $TMP/www; }
}
CONF
nginx -p "$TMP/backend" -c "$TMP/backend/nginx.conf" &
pids+=($!)

cat >"$TMP/lbproxy.yaml" <<YAML
workers: 1
listeners:
  - name: public
    listen: 127.0.0.1:8321
    routes:
      - cluster: app
        compression: { encodings: [${ENCODING:-gzip}], gzip_level: $LEVEL, brotli_quality: ${QUALITY:-4} }
clusters:
  - name: app
    hosts: [{ id: b1, address: 127.0.0.1:9211 }]
access_log: { enabled: false }
admin: { listen: 127.0.0.1:0 }
YAML
"$BIN/proxy/lbproxy" -c "$TMP/lbproxy.yaml" >"$TMP/lbproxy.log" 2>&1 &
pids+=($!)
LBPROXY_PID=$!

cat >"$TMP/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4000; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream app { server 127.0.0.1:9211; keepalive 64; }
  gzip on;
  gzip_comp_level $LEVEL;
  # text/html is always in gzip_types.
  gzip_proxied any;
  server {
    listen 127.0.0.1:8322;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
pids+=($!)
NGINX_MASTER=$!

sleep 1.5
NGINX_PID=$(pgrep -P "$NGINX_MASTER" | head -1)
declare -A PORT=([lbproxy]=8321 [nginx]=8322)
declare -A PID=([lbproxy]=$LBPROXY_PID [nginx]=$NGINX_PID)
declare -A SIZE RPS CPU
for name in lbproxy nginx; do
  url="http://127.0.0.1:${PORT[$name]}/index.html"
  # Both must really code it, and decode to the page.
  curl -fsS --compressed -o "$TMP/$name.html" "$url"
  cmp -s "$TMP/$name.html" "$TMP/www/index.html" || { echo "$name: decoded page differs" >&2; exit 1; }
  SIZE[$name]=$(curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$url")
done

# shellcheck source=bench/load/measure.sh
source "$ROOT/bench/load/measure.sh"
measure() {  # name
  local name=$1 url="http://127.0.0.1:${PORT[$1]}/index.html" pid=${PID[$1]} c0 c1 out
  wrk -t1 -c"$CONNS" -d1s -H 'Accept-Encoding: gzip' "$url" >/dev/null
  c0=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Accept-Encoding: gzip' "$url")
  c1=$(cpu_ticks "$pid")
  local rps requests us
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  grep -E "Non-2xx|Socket errors" <<<"$out" >&2 || true
  us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$requests" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')
  RPS[$name]+="$rps " CPU[$name]+="$us "
  printf '  %-8s %9s req/s  cpu %7s us/req  %s bytes coded\n' "$name" "$rps" "$us" "${SIZE[$name]}"
}

echo "gzip benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, level $LEVEL, page $PAGE_BYTES bytes, wrk -c$CONNS -d${DURATION}s, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r"
  for name in lbproxy nginx; do measure "$name"; done
done
echo
echo "| proxy | req/s | CPU us/req | coded bytes | MB/s of page coded per CPU second |"
echo "|---|---|---|---|---|"
for name in lbproxy nginx; do
  rps=$(median "${RPS[$name]}") cpu=$(median "${CPU[$name]}")
  echo "| $name | $rps | $cpu | ${SIZE[$name]} | $(awk -v b="$PAGE_BYTES" -v c="$cpu" 'BEGIN { printf "%.0f", b / c }') |"
done
awk -v a="$(median "${RPS[lbproxy]}")" -v b="$(median "${RPS[nginx]}")" \
  -v ca="$(median "${CPU[lbproxy]}")" -v cb="$(median "${CPU[nginx]}")" \
  -v sa="${SIZE[lbproxy]}" -v sb="${SIZE[nginx]}" \
  'BEGIN { printf "lbproxy / nginx: req/s x%.2f, CPU per request x%.2f, coded size x%.3f\n", a / b, ca / cb, sa / sb }'
