#!/usr/bin/env bash
# The demo: installs what is missing, builds, then runs lbproxy on 127.0.0.1:8080 (and HTTPS +
# HTTP/2 on 8443 with a self-signed certificate) and lbcontrol
# on 127.0.0.1:9902, which starts three demo instances of version 1.0.0 (127.0.0.1:9101-9120)
# and adds them to the proxy. Roll versions with build/lbctl/lbctl (see the README).
# Ctrl-C stops all of it, instances included.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh" release
BIN="$ROOT/build"
STATE="$ROOT/build/demo-state"
cd "$ROOT"  # lbcontrol-demo.yaml's paths are relative to the repository root

stop_instances() {
  for f in "$STATE"/pids/*.pid; do
    [[ -f "$f" ]] && kill -TERM -- "-$(cat "$f")" 2>/dev/null || true
  done
}
pids=()
stop() {
  trap - INT TERM EXIT
  echo "demo: stopping" >&2
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_instances  # lbcontrol never stops the application by itself; the demo does
}
trap stop INT TERM EXIT

stop_instances 2>/dev/null || true  # leftovers of a demo that was killed
rm -rf "$STATE"

# HTTPS and HTTP/2 on 127.0.0.1:8443: a self-signed certificate made once, and the demo config
# with a TLS listener added (the shipped example stays free of generated files).
CERTS="$BIN/demo-certs"
if [[ ! -f "$CERTS/demo.crt" ]]; then
  mkdir -p "$CERTS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$CERTS/demo.key" -out "$CERTS/demo.crt" 2>/dev/null
fi
awk -v certs="$CERTS" '/^clusters:/ {
    print "  - name: public-tls"
    print "    listen: 127.0.0.1:8443"
    print "    tls: { certificates: [{ cert: " certs "/demo.crt, key: " certs "/demo.key }] }"
    print "    routes:"
    print "      - { name: tls-default, cluster: app }"
  } { print }' config/examples/demo.yaml >"$BIN/demo-lbproxy.yaml"
"$BIN/proxy/lbproxy" -c "$BIN/demo-lbproxy.yaml" &
pids+=($!)
sleep 0.5
"$BIN/controlplane/lbcontrol" -c config/examples/lbcontrol-demo.yaml &
pids+=($!)

cat >&2 <<'TXT'
demo: lbcontrol is starting app-1..app-3 (version 1.0.0); in a few seconds try
  curl -i localhost:8080/api/products              # X-Instance, X-App-Version
  curl -ik --http2 https://localhost:8443/api/products   # the same over TLS and HTTP/2
  build/lbctl/lbctl instances                      # what lbcontrol runs
  build/lbctl/lbctl deploy 1.1.0 --wait            # rolling update
  build/lbctl/lbctl deploy 1.2.0-broken --wait     # automatic rollback, exit 3
  build/lbctl/lbctl history
demo: Ctrl-C stops everything
TXT
# Exit (and clean up) as soon as any of the processes dies.
wait -n
