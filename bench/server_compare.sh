#!/usr/bin/env bash
# Transport-only throughput: starts build/bin/edgefleet-bench-http (the HTTP
# transport with handlers of the real API's shape, bench/http_bench_server.cc)
# on a free loopback port and runs /work/shared/peers/compare.py against it,
# beside seed-fastapi and nginx. Prints compare.py's markdown table.
#
#   bench/server_compare.sh [--conns 64,1024] [--seconds 8] [--rounds 2]
#                           [--endpoints classify,version,download,check] [--threads N]
#                           [--reuse-port 0|1]
#
# Build first: cmake --build build --target edgefleet-bench-http
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${EDGEFLEET_BUILD:-$here/build}/bin/edgefleet-bench-http"
compare="${PEERS_COMPARE:-/work/shared/peers/compare.py}"
conns=64,1024 seconds=8 rounds=2 endpoints=classify,version,download,check threads=0 reuse_port=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --conns) conns="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --endpoints) endpoints="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --reuse-port) reuse_port="$2"; shift 2 ;;
    *) echo "server_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$bin" ]] || { echo "server_compare.sh: build $bin first (cmake --build build --target edgefleet-bench-http)" >&2; exit 2; }

tmp="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
head -c 12288 /dev/urandom > "$tmp/model.bin"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$bin" --port "$port" --artifact "$tmp/model.bin" --threads "$threads" --reuse-port "$reuse_port" > "$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/model/version" >/dev/null 2>&1 && break
  sleep 0.1
done
python3 "$compare" --target "http://127.0.0.1:$port" --artifact "$tmp/model.bin" \
  --conns "$conns" --seconds "$seconds" --rounds "$rounds" --endpoints "$endpoints"
