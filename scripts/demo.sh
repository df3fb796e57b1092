#!/usr/bin/env bash
# make demo: what exists of the hybrid loop so far, on the shipped recordings.
# It grows with every issue (see the README's "Status"); today:
#   1. an edge artifact made from real windows (calibrated and quantized on
#      them; the network is not trained yet: `edgefleet train` is the ML
#      pipeline issue), validated and printed by `edgefleet model inspect`;
#   2. the freestanding core on a Cortex-M4F (make mcu): it parses the same
#      kind of artifact and decides a real window as the host does;
#   3. the core's speed on real windows (Google Benchmark).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
OUT="$ROOT/demo-data"
mkdir -p "$OUT"

echo "== 1. an edge model artifact from the shipped recordings (data/ceiling-fan.efr)"
"$BUILD/bin/edgefleet-mcu-fixture" "$OUT/edge.efm"
"$BUILD/bin/edgefleet" model inspect "$OUT/edge.efm"

echo
echo "== 2. the same core on a Cortex-M4F (bare metal, QEMU)"
"$ROOT/scripts/build-mcu.sh" "$BUILD" | tail -n 12

echo
echo "== 3. one window through preprocessing, inference and decision"
"$BUILD/bin/edgefleet-bench-core" --benchmark_filter='BM_(Int8|Float)_' --benchmark_min_time=0.2 2>/dev/null

echo
echo "demo: done (artifact in $OUT/edge.efm)"
