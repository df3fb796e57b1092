#!/usr/bin/env bash
# make demo: the hybrid loop end to end on this machine (issue 7, SPEC sections 1 and 9).
#   1. `edgefleet demo`: its own Mosquitto and server, models trained from the shipped
#      recordings (data/ceiling-fan.efr), N real edgefleet-agent processes replaying
#      recorded conditions, a server outage in the middle, an OTA update to model v2,
#      the live table and the summary. Exit status 0 only if every step passed.
#   2. edge-only, hybrid and cloud-only of model v1 on the held-out test captures
#      (edgefleet eval), with the zone sweep plot.
# DEVICES=N (default 8) and DEMO_ARGS (e.g. --keep) pass through.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
OUT="$ROOT/demo-data"

# shellcheck disable=SC2086
"$BUILD/bin/edgefleet" demo --devices "${DEVICES:-8}" --dir "$OUT" ${DEMO_ARGS:-}

echo
echo "== edge-only, hybrid and cloud-only of model v1 on the held-out test captures"
"$BUILD/bin/edgefleet" eval --models "$OUT/models/v1" --scores "$OUT/scores.csv" \
  --sweep-csv "$OUT/sweep.csv" --sweep-svg "$OUT/zone-sweep.svg" | tail -n 25
echo "(per-window scores: $OUT/scores.csv; zone sweep: $OUT/zone-sweep.svg)"
