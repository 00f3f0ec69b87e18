#!/usr/bin/env bash
# The demo: installs what is missing, builds, then runs lbproxy on 127.0.0.1:8080 and lbcontrol
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
"$BIN/proxy/lbproxy" -c config/examples/demo.yaml &
pids+=($!)
sleep 0.5
"$BIN/controlplane/lbcontrol" -c config/examples/lbcontrol-demo.yaml &
pids+=($!)

cat >&2 <<'TXT'
demo: lbcontrol is starting app-1..app-3 (version 1.0.0); in a few seconds try
  curl -i localhost:8080/api/products              # X-Instance, X-App-Version
  build/lbctl/lbctl instances                      # what lbcontrol runs
  build/lbctl/lbctl deploy 1.1.0 --wait            # rolling update
  build/lbctl/lbctl deploy 1.2.0-broken --wait     # automatic rollback, exit 3
  build/lbctl/lbctl history
demo: Ctrl-C stops everything
TXT
# Exit (and clean up) as soon as any of the processes dies.
wait -n
