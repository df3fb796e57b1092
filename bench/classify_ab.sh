#!/usr/bin/env bash
# Alternated A/B runs of bench/classify_cpu.sh (wrk against /classify of one
# edgefleet server at a time): each round runs every variant once, in order,
# so that the machine's drift lands on all of them alike; then the median and
# range of each measure per variant.
#
#   bench/classify_ab.sh [--rounds N] [--conns C] [--seconds S] [--models DIR]
#                        LABEL=BIN[:CONFIG][@ENV=VALUE] ...
#
# A variant is a label, an edgefleet binary, optionally a server config file
# and one environment assignment for the server, e.g.
#   bench/classify_ab.sh --rounds 5 base=/work/wt/base/build/bin/edgefleet \
#       head=build/bin/edgefleet buffered=build/bin/edgefleet:/tmp/buffered.toml
# The raw lines are kept in a temporary file named at the end.
set -euo pipefail
rounds=4 conns=64 seconds=6 models=""
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    *) echo "classify_ab.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -ge 1 ]] || { echo "usage: bench/classify_ab.sh [options] LABEL=BIN[:CONFIG][@ENV=VALUE] ..." >&2; exit 2; }
here="$(cd "$(dirname "$0")/.." && pwd)"
# Without --models, the first run trains into a fresh directory and the others reuse it.
[[ -n "$models" ]] || models="$(mktemp -d)"
raw="$(mktemp /tmp/classify_ab.XXXXXX)"
for ((r = 1; r <= rounds; r++)); do
  for variant in "$@"; do
    label="${variant%%=*}" rest="${variant#*=}" env_kv="X_UNUSED=1" config=()
    [[ "$rest" == *@* ]] && { env_kv="${rest#*@}"; rest="${rest%%@*}"; }
    bin="${rest%%:*}"
    [[ "$rest" == *:* ]] && config=(-- --config "${rest#*:}")
    line="$(env "$env_kv" "$here/bench/classify_cpu.sh" "$bin" --models "$models" --conns "$conns" \
      --seconds "$seconds" "${config[@]}" 2>&1 | tail -n 2 | tr '\n' ' ')"
    echo "$label $line" >> "$raw"
    echo "round $r $label: $line" >&2
  done
done
/usr/bin/python3 - "$raw" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, _, rest = line.partition(" ")
    rows.setdefault(label, []).append(dict(re.findall(r"([\w-]+)=([\d.]+)", rest)))
def cell(ds, key, fmt):
    v = [float(d[key]) for d in ds if key in d]
    return f"{fmt % statistics.median(v)} ({fmt % min(v)}-{fmt % max(v)})" if v else "-"
print("| variant | runs | req/s | p99 ms | server CPU us/req | HTTP threads | writer | errors |")
print("|---|---|---|---|---|---|---|---|")
for label, ds in rows.items():
    errors = sum(float(d.get("errors", 0)) for d in ds)
    print(f"| {label} | {len(ds)} | {cell(ds, 'rps', '%.0f')} | {cell(ds, 'p99_ms', '%.2f')} | "
          f"{cell(ds, 'total', '%.1f')} | {cell(ds, 'ef-http', '%.1f')} | {cell(ds, 'ef-writer', '%.1f')} | {errors:.0f} |")
PY
echo "raw lines: $raw"
