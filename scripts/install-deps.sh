#!/usr/bin/env bash
# Installs the Debian packages edgefleet needs to build, test, benchmark and demo.
# Idempotent: packages already present are not touched, and apt-get update runs
# at most once, only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
  qemu-system-arm  # runs the Cortex-M4F build (make mcu, scripts/build-mcu.sh)
  # libraries (the intended set, docs/DECISIONS.md)
  libboost-dev libboost-system-dev libboost-program-options-dev
  libcurl4-openssl-dev
  libmosquitto-dev mosquitto mosquitto-clients
  libsqlite3-dev sqlite3
  libpqxx-dev postgresql
  libssl-dev openssl
  libzstd-dev zstd
  libeigen3-dev
  libsimdjson-dev nlohmann-json3-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # benchmarks against the peers (../shared/peers)
  wrk nginx
  python3-fastapi python3-uvicorn python3-numpy python3-uvloop python3-httptools
  # the seeds' Python clients in the server's compatibility test (tests/server/seed_compat.py)
  python3-aiohttp
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${#missing[@]} missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts services it installs; the project starts its own on free ports.
for svc in mosquitto nginx postgresql; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-deps: done"
