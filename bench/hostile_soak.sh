#!/usr/bin/env bash
# Resident memory of the real server over many repeats of the hostile
# catalogue (tests/server/server_e2e_test.cc): the server must answer every
# request of every round with its JSON error and its memory must stay flat
# (the test fails if it grows by more than 16 MB after the first round).
#
#   bench/hostile_soak.sh [BUILD_DIR] [REPEATS]     (default build, 1000)
set -euo pipefail
build=${1:-build}
repeats=${2:-1000}
cmake --build "$build" --target server_e2e_test edgefleet
EDGEFLEET_CATALOGUE_REPEATS=$repeats "$build/tests/server_e2e_test" \
  --gtest_filter='ServerE2eTest.HostileCatalogueGetsJsonErrorsAndTheServerStaysUp'
