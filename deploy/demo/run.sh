#!/usr/bin/env bash
# The demo: installs what is missing, builds, then runs three demo instances
# (127.0.0.1:9001-9003) behind lbproxy on 127.0.0.1:8080. Ctrl-C stops all of it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh" release
BIN="$ROOT/build"

pids=()
stop() {
  trap - INT TERM EXIT
  echo "demo: stopping" >&2
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

for i in 1 2 3; do
  "$BIN/deploy/demo/demo-instance" --host 127.0.0.1 --port "900$i" --instance "app-$i" \
    --version 1.0.0 &
  pids+=($!)
done
"$BIN/proxy/lbproxy" -c "$ROOT/config/examples/demo.yaml" &
pids+=($!)

echo "demo: try  curl -i localhost:8080/api/products   (Ctrl-C stops everything)" >&2
echo "demo: admin curl -s localhost:9901/v1/clusters/app   curl -s localhost:9901/metrics" >&2
# Exit (and clean up) as soon as any of the processes dies.
wait -n
