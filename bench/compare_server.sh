#!/usr/bin/env bash
# The real server against the peers: sets up a throw-away data dir (signing
# keys, the trained edge and cloud models, the edge model published, device
# fan-0001 and its token), starts build/bin/edgefleet server on a free
# loopback port and runs /work/shared/peers/compare.py against it, beside
# seed-fastapi and nginx, once per --conns value. Prints compare.py's
# markdown tables (each row preceded by a line per single run, references
# included), then the server's escalation counters (queued, stored,
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
peer_dir=""  # as root: the artifact's world-readable copy for compare.py's references (below)
data="${keep:-$tmp/data}"
pid=""
cleanup() {
  bench_server_stop
  rm -rf "$tmp" ${peer_dir:+"$peer_dir"}
}
trap cleanup EXIT
bench_server_start "$bin" "$data" "${models:-$tmp/models}" "$tmp" "$threads"
echo "server pid $pid on port $port, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -r -a conn_list <<< "$conns"
# compare.py's nginx serves --artifact out of a mkdtemp directory (mode 0700).
# Run as root, nginx's workers (user nobody) cannot read it and answer every
# /model/download with 403: nginx's download figure would be that of an error
# page (compare.py counts them as its errors). So as root, compare.py and the
# references run as nobody (setpriv keeps this shell's open-files limit, which
# wrk needs at 1,024 connections), given a world-readable copy of the artifact
# in a directory of its own (the data dir, keys included, stays private).
as_peer=()
if [[ "$(id -u)" == 0 ]]; then
  as_peer=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  peer_dir="$(mktemp -d)"
  chmod 755 "$peer_dir"
  install -m 644 "$artifact" "$peer_dir/model.efm"
  artifact="$peer_dir/model.efm"
fi
# compare.py runs unchanged; its wrk() is wrapped at import so that every
# single run (target, seed-fastapi and nginx alike) is also printed, as a
# "run" line before the table row: the references' own p99 in the same
# minutes is the floor the target's p99 is read against.
run_compare() {
  "${as_peer[@]}" /usr/bin/python3 - "$compare" "$@" <<'PY'
import importlib.util, sys, urllib.request
spec = importlib.util.spec_from_file_location("compare", sys.argv[1])
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)
servers = {}
def name_of(base, token):
    if token:
        return "target"
    if base not in servers:  # the reference that answers "Server: nginx" is nginx
        with urllib.request.urlopen(base + "/model/version", timeout=5) as reply:
            servers[base] = "nginx" if "nginx" in (reply.headers.get("Server") or "") else "seed-fastapi"
    return servers[base]
measure = compare.wrk
def wrk(base, endpoint, conns, seconds, body, token):
    r = measure(base, endpoint, conns, seconds, body, token)
    if r:
        print(f"run {endpoint} {conns} {name_of(base, token)}: {r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, "
              f"p99 {r['p99']:.2f} ms, errors {r['errors']}", flush=True)
    return r
compare.wrk = wrk
sys.argv = [sys.argv[1]] + sys.argv[2:]
sys.exit(compare.main())
PY
}
for c in "${conn_list[@]}"; do
  run_compare --target "http://127.0.0.1:$port" --artifact "$artifact" --token "$token" \
    --conns "$c" --seconds "$seconds" --rounds "$rounds" --endpoints "$endpoints"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -E '^edgefleet_(escalations|classify)' || true
