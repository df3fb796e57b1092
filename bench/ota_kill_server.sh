#!/bin/sh
# 200 real kill -9 of edgefleet-ota-drive at random moments of an update
# served by the real `edgefleet server` (tests/agent/ota_server_test.cc);
# prints how many devices were bricked and in which states the kills
# landed. Run from the repository root after
# `cmake --build build --target ota_server_test edgefleet edgefleet-ota-drive`.
set -eu
EDGEFLEET_OTA_KILLS="${1:-200}" exec build/tests/ota_server_test --gtest_filter='OtaServerKill.*'
