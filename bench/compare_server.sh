#!/usr/bin/env bash
# The real server against the peers: sets up a throw-away data dir (signing
# keys, the trained edge and cloud models, the edge model published, device
# fan-0001 and its token), starts build/bin/edgefleet server on a free
# loopback port and runs /work/shared/peers/compare.py against it, beside
# seed-fastapi and nginx, once per --conns value. Prints compare.py's
# markdown tables, then the server's escalation counters (queued, stored,
# refused with 503) from /metrics. Stops the server by its pid.
#
#   bench/compare_server.sh [--conns 64,1024] [--seconds 8] [--rounds 2]
#                           [--endpoints classify,version,download,check]
#                           [--threads N] [--models DIR] [--keep DIR]
#
# --models DIR reuses edge.efm and cloud.efcm from an earlier
# `edgefleet train --out DIR` (training takes a while on a loaded machine).
# --keep DIR keeps the data dir there (the escalation log, the database).
# Build first: cmake --build build --target edgefleet
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${EDGEFLEET_BUILD:-$here/build}/bin/edgefleet"
compare="${PEERS_COMPARE:-/work/shared/peers/compare.py}"
conns=64,1024 seconds=8 rounds=2 endpoints=classify,version,download,check threads=0 models="" keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --conns) conns="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --endpoints) endpoints="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) echo "compare_server.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "compare_server.sh: build $bin first (cmake --build build --target edgefleet)" >&2; exit 2; }

source "$here/bench/bench_server.sh"
tmp="$(mktemp -d)"
data="${keep:-$tmp/data}"
pid=""
cleanup() {
  bench_server_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
bench_server_start "$bin" "$data" "${models:-$tmp/models}" "$tmp" "$threads"
echo "server pid $pid on port $port, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -r -a conn_list <<< "$conns"
for c in "${conn_list[@]}"; do
  python3 "$compare" --target "http://127.0.0.1:$port" --artifact "$artifact" --token "$token" \
    --conns "$c" --seconds "$seconds" --rounds "$rounds" --endpoints "$endpoints"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -E '^edgefleet_(escalations|classify)' || true
