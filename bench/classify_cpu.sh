#!/usr/bin/env bash
# One edgefleet server, wrk against its /classify only (no peers): req/s,
# p50/p99, errors, and the server's CPU per request (its utime + stime over
# the run divided by wrk's request count). For A/B runs of two builds or two
# configs side by side, where compare.py's peers would only add noise.
#
#   bench/classify_cpu.sh BIN [--threads N] [--conns C] [--seconds S] [--models DIR]
#                             [-- extra `edgefleet server` arguments, e.g. --config FILE]
#
# BIN is an edgefleet binary (build/bin/edgefleet). --models DIR holds
# edge.efm and cloud.efcm from `edgefleet train --out DIR` (trained here if
# not given). Needs wrk and /work/shared/peers/wrk (PEERS_WRK overrides).
# The server is stopped by its pid on every exit.
set -euo pipefail
bin="${1:?usage: bench/classify_cpu.sh BIN [options]}"; shift
threads=0 conns=64 seconds=6 models=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "classify_cpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/bench/bench_server.sh"
wrkdir="${PEERS_WRK:-/work/shared/peers/wrk}"
tmp="$(mktemp -d)"
pid=""
cleanup() {
  bench_server_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
bench_server_start "$bin" "$tmp/data" "${models:-$tmp/models}" "$tmp" "$threads" "$@"
/usr/bin/python3 "$wrkdir/make_classify_body.py" "$tmp/body.json" > /dev/null
# Per kind of thread: "name ticks" lines, the workers' numbers dropped. The
# fields after the comm's closing parenthesis start at stat's third.
thread_ticks() {
  local t name rest
  for t in /proc/"$pid"/task/*; do
    name="$(cat "$t/comm")"
    rest="$(sed 's/.*) //' "$t/stat")"
    awk -v n="${name%-[0-9]*}" '{print n, $12 + $13}' <<< "$rest"
  done | awk '{ticks[$1] += $2} END {for (n in ticks) print n, ticks[n]}' | sort
}
threads0="$(thread_ticks)"
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
out="$(BODY_FILE="$tmp/body.json" AUTH_TOKEN="$token" wrk -t2 "-c$conns" "-d${seconds}s" --timeout 5s --latency \
  -s "$wrkdir/post_json.lua" "http://127.0.0.1:$port" | grep RESULT)"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
threads1="$(thread_ticks)"
requests="$(grep -o 'requests=[0-9]*' <<< "$out" | cut -d= -f2)"
hz="$(getconf CLK_TCK)"
printf '%s ' "$(grep -o 'rps=[0-9.]* p50_ms=[0-9.]* p99_ms=[0-9.]* errors=[0-9]*' <<< "$out")"
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v r="$requests" -v hz="$hz" \
  'BEGIN { printf "server_cpu_us_per_request user=%.1f sys=%.1f total=%.1f\n", u*1e6/hz/r, s*1e6/hz/r, (u+s)*1e6/hz/r }'
join <(echo "$threads0") <(echo "$threads1") |
  awk -v r="$requests" -v hz="$hz" \
    '{ printf "%s%s=%.1f", (NR > 1 ? " " : "by_thread_us_per_request "), $1, ($3 - $2) * 1e6 / hz / r } END { print "" }'
