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

tmp="$(mktemp -d)"
data="${keep:-$tmp/data}"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$data"

if [[ -z "$models" ]]; then
  models="$tmp/models"
  "$bin" train --out "$models" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log" >&2; exit 1; }
fi
"$bin" keys generate --data-dir "$data" > /dev/null
"$bin" admin token --data-dir "$data" > /dev/null 2>&1
token="$("$bin" device add fan-0001 --data-dir "$data" 2>/dev/null | tail -n 1)"
cp "$models/cloud.efcm" "$data/cloud.efcm"
"$bin" model publish "$models/edge.efm" --data-dir "$data" > /dev/null
artifact="$(ls "$data"/models/model-v1-*.efm)"

"$bin" server --data-dir "$data" --bind 127.0.0.1 --port 0 --port-file "$tmp/port" --threads "$threads" \
  > "$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
port="$(cat "$tmp/port")"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/model/version" > /dev/null 2>&1 && break
  sleep 0.1
done
echo "server pid $pid on port $port, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -r -a conn_list <<< "$conns"
for c in "${conn_list[@]}"; do
  python3 "$compare" --target "http://127.0.0.1:$port" --artifact "$artifact" --token "$token" \
    --conns "$c" --seconds "$seconds" --rounds "$rounds" --endpoints "$endpoints"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -E '^edgefleet_(escalations|classify)' || true
