#!/bin/sh
# Real kill -9 of edgefleet-agent while it syncs with the real edgefleet
# server (tests/agent/agent_kill_test.cc), N times (default 300; ctest runs
# 50); prints kills, rows, rows lost, stored twice or changed. Run from the
# repository root after
# `cmake --build build --target agent_kill_test edgefleet-agent edgefleet`.
set -eu
EDGEFLEET_AGENT_KILLS="${1:-300}" exec build/tests/agent_kill_test --gtest_filter='AgentKill.Sigkill*'
