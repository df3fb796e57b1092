#!/usr/bin/env bash
# Bounded fuzz pass over every libFuzzer target of an ASan build tree.
#   scripts/fuzz.sh BUILD_DIR SECONDS_PER_TARGET [EXTRA libFuzzer flags...]
# The corpus starts from fuzz/corpus/<target> (committed) plus seeds written by
# the project's own writer; new inputs go to BUILD_DIR/fuzz/corpus-<target>.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR SECONDS}
seconds=${2:?usage: fuzz.sh BUILD_DIR SECONDS}
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)

# Every libFuzzer target (fuzz/CMakeLists.txt), one line each so that additions merge.
targets=(
  artifact
  cloud_model
  packed_data
  telemetry
  http_request
  ota_state
  sync_codec
  agent_source
  api_request
)

for target in "${targets[@]}"; do
  mkdir -p "$build/fuzz/corpus-$target" "$root/fuzz/corpus/$target"
done
"$build/bin/fuzz_seed_artifacts" "$build/fuzz/corpus-artifact"
"$build/bin/fuzz_seed_ml" "$build/fuzz/corpus-cloud_model" "$build/fuzz/corpus-packed_data"
"$build/bin/fuzz_seed_sync" "$build/fuzz/corpus-sync_codec"
for target in "${targets[@]}"; do
  work="$build/fuzz/corpus-$target"
  bin="$build/fuzz/${target}_fuzz"
  log="$build/fuzz/${target}.log"
  echo "fuzz: $target for ${seconds}s"
  status=0
  "$bin" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 "$@" \
    "$work" "$root/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done)|ERROR|SUMMARY" "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target failed (exit $status); the log is $log" >&2
    tail -40 "$log" >&2
    exit 1
  fi
done
echo "fuzz: clean"
