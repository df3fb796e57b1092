#!/usr/bin/env bash
# make demo: what exists of the hybrid loop so far, on the shipped recordings.
# It grows with every issue (see the README's "Status"); today:
#   1. train the edge artifact and the cloud model (edgefleet train);
#   2. inspect the edge artifact the device would run;
#   3. evaluate edge-only, hybrid and cloud-only on the held-out test captures,
#      with the zone sweep plot (edgefleet eval);
#   4. the freestanding core on a Cortex-M4F (make mcu, QEMU);
#   5. the core's speed on real windows (Google Benchmark).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
OUT="$ROOT/demo-data"
mkdir -p "$OUT"

echo "== 1. train the edge and cloud models on the shipped recordings (data/ceiling-fan.efr)"
"$BUILD/bin/edgefleet" train --out "$OUT/models" --seed 1 2>&1 | awk '/epoch +1 /||/epoch 300/||/wrote/'

echo
echo "== 2. the edge artifact a device runs"
"$BUILD/bin/edgefleet" model inspect "$OUT/models/edge.efm"

echo
echo "== 3. edge-only, hybrid and cloud-only on the held-out test captures"
"$BUILD/bin/edgefleet" eval --models "$OUT/models" --scores "$OUT/scores.csv" \
  --sweep-csv "$OUT/sweep.csv" --sweep-svg "$OUT/zone-sweep.svg"
echo "(per-window scores: $OUT/scores.csv; zone sweep: $OUT/zone-sweep.svg)"

echo
echo "== 4. the same core on a Cortex-M4F (bare metal, QEMU)"
"$ROOT/scripts/build-mcu.sh" "$BUILD" | tail -n 12

echo
echo "== 5. one window through preprocessing, inference and decision"
"$BUILD/bin/edgefleet-bench-core" --benchmark_filter='BM_(Int8|Float)_' --benchmark_min_time=0.2 2>/dev/null

echo
echo "demo: done (models in $OUT/models)"
