#!/usr/bin/env bash
# A/B of two lbproxy builds, for a change to the request path: the binary of the commit before
# (A) against the change (B), in one run, rounds alternating so machine noise hits both alike.
# Both run one worker behind the same nginx backends (as bench/load/run.sh).
#
#   bench/load/ab.sh A/lbproxy B/lbproxy
#   ROUNDS=5 DURATION=8 CONNS=64 IDLE=5000 H2N=200000 CALLGRIND_SECONDS=5 bench/load/ab.sh A B
#
# Prints, for A and B and B/A: bytes per idle keep-alive connection (fresh processes), HTTP/1.1
# keep-alive, https keep-alive and h2 (h2load -c16 -m10) CPU per request (medians over the
# rounds), and instructions per proxied HTTP/1.1 request under callgrind (instrumentation switched
# on after a warm-up, so start-up is not counted).
#
# Build the base binary with: git worktree add /tmp/base <commit> && (cd /tmp/base &&
# scripts/build.sh release), then use /tmp/base/build/proxy/lbproxy as A.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
A_BIN=$(realpath "${1:?usage: ab.sh A-lbproxy B-lbproxy}")
B_BIN=$(realpath "${2:?usage: ab.sh A-lbproxy B-lbproxy}")
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
IDLE=${IDLE:-5000}
H2N=${H2N:-200000}
CALLGRIND_SECONDS=${CALLGRIND_SECONDS:-5}

"$ROOT/scripts/install-deps.sh" nginx wrk nghttp2-client valgrind
"$ROOT/scripts/build.sh" release >/dev/null  # for idle-conns
IDLE_CONNS="$ROOT/build/bench/load/idle-conns"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/lb-ab.XXXXXX)
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
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null

config() {  # http-port tls-port
  cat <<YAML
workers: 1
listeners:
  - name: public
    listen: 127.0.0.1:$1
    routes: [{ cluster: app }]
  - name: tls
    listen: 127.0.0.1:$2
    tls: { certificates: [{ cert: $TMP/tls.crt, key: $TMP/tls.key }] }
    http2: { max_requests_per_connection: 100000000 }
    routes: [{ cluster: app }]
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
config 8401 8411 >"$TMP/a.yaml"
config 8402 8412 >"$TMP/b.yaml"
declare -A BIN=([A]=$A_BIN [B]=$B_BIN) PORT=([A]=8401 [B]=8402) TPORT=([A]=8411 [B]=8412)
declare -A PID

start() {  # name [wrapper...]
  local name=$1
  shift
  "$@" "${BIN[$name]}" -c "$TMP/${name,,}.yaml" >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  pids+=($!)
  for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:${PORT[$name]}/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$name does not answer" >&2
  cat "$TMP/$name.log" >&2
  exit 1
}
stop() { kill -TERM "${PID[$1]}" 2>/dev/null || true; wait "${PID[$1]}" 2>/dev/null || true; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)
per_req() { awk -v d="$1" -v t="$TICK" -v n="$2" 'BEGIN { printf "%.2f", d / t * 1e6 / n }'; }
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }'; }

echo "lbproxy A/B: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo "  A = $A_BIN"
echo "  B = $B_BIN"

# --- idle keep-alive connections, on fresh processes ----------------------------------------
declare -A IDLE_B
for name in A B; do
  start "$name"
  before=$(rss_kib "${PID[$name]}")
  coproc HOLD { "$IDLE_CONNS" "${PORT[$name]}" "$IDLE"; }
  read -r line <&"${HOLD[0]}" || true
  [[ "$line" == ready* ]] || { echo "idle-conns failed" >&2; exit 1; }
  after=$(rss_kib "${PID[$name]}")
  IDLE_B[$name]=$(awk -v a="$before" -v b="$after" -v c="$IDLE" 'BEGIN { printf "%.0f", (b - a) * 1024 / c }')
  exec {HOLD[1]}>&-
  wait "$HOLD_PID" 2>/dev/null || true
  stop "$name"
done
echo "idle keep-alive connections ($IDLE): A ${IDLE_B[A]} bytes each, B ${IDLE_B[B]}"

# --- CPU per request, alternating rounds ----------------------------------------------------
start A
start B
declare -A H1 TLS H2
for ((r = 1; r <= ROUNDS; r++)); do
  for name in A B; do
    pid=${PID[$name]}
    wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:${PORT[$name]}/" >/dev/null
    c0=$(cpu_ticks "$pid")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:${PORT[$name]}/")
    c1=$(cpu_ticks "$pid")
    h1=$(per_req $((c1 - c0)) "$(awk '/requests in/ {print $1}' <<<"$out")")
    c0=$(cpu_ticks "$pid")
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:${TPORT[$name]}/")
    c1=$(cpu_ticks "$pid")
    tls=$(per_req $((c1 - c0)) "$(awk '/requests in/ {print $1}' <<<"$out")")
    c0=$(cpu_ticks "$pid")
    out=$(h2load -n "$H2N" -c 16 -m 10 "https://127.0.0.1:${TPORT[$name]}/" 2>&1)
    c1=$(cpu_ticks "$pid")
    ok=$(awk '/^requests:/ {print $8}' <<<"$out")
    [[ "$ok" == "$H2N" ]] || echo "  $name: h2load: $(grep '^requests:' <<<"$out")" >&2
    h2=$(per_req $((c1 - c0)) "$H2N")
    H1[$name]+="$h1 " TLS[$name]+="$tls " H2[$name]+="$h2 "
    printf '  round %d %s: http/1.1 %6s us/req  https %6s us/req  h2 %6s us/req\n' "$r" "$name" "$h1" "$tls" "$h2"
  done
done
stop A
stop B

# --- instructions per request under callgrind -----------------------------------------------
declare -A IR
for name in A B; do
  start "$name" valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$TMP/callgrind.$name"
  wrk -t1 -c16 -d2s "http://127.0.0.1:${PORT[$name]}/" >/dev/null  # warm-up, not collected
  callgrind_control -i on "${PID[$name]}" >/dev/null
  out=$(wrk -t1 -c16 -d"${CALLGRIND_SECONDS}s" "http://127.0.0.1:${PORT[$name]}/")
  callgrind_control -i off "${PID[$name]}" >/dev/null
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  stop "$name"
  total=$(awk '/^totals:/ {print $2}' "$TMP/callgrind.$name")
  IR[$name]=$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
done

echo
echo "| | A | B | B / A |"
echo "|---|---|---|---|"
for row in "HTTP/1.1 CPU us/req:H1" "https CPU us/req:TLS" "h2 CPU us/req:H2"; do
  label=${row%%:*} var=${row##*:}
  declare -n M=$var
  a=$(median "${M[A]}") b=$(median "${M[B]}")
  echo "| $label (median of $ROUNDS) | $a | $b | $(ratio "$a" "$b") |"
done
echo "| instructions per HTTP/1.1 request (callgrind) | ${IR[A]} | ${IR[B]} | $(ratio "${IR[A]}" "${IR[B]}") |"
echo "| bytes per idle keep-alive connection | ${IDLE_B[A]} | ${IDLE_B[B]} | $(ratio "${IDLE_B[A]}" "${IDLE_B[B]}") |"
