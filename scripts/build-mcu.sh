#!/usr/bin/env bash
# make mcu: the freestanding core on a Cortex-M4F.
#
#   scripts/build-mcu.sh [HOST_BUILD_DIR]      (default: build)
#
# 1. Builds the host tool edgefleet-mcu-fixture in HOST_BUILD_DIR and writes
#    build-mcu/fixture/fixture.h: a real model artifact, a real window and the
#    host core's result for it (mcu/fixture_main.cc).
# 2. Cross-compiles the core and the bare-metal program mcu/target (toolchain
#    cmake/arm-none-eabi.cmake) once per optimisation level, in build-mcu/O2
#    and build-mcu/Os.
# 3. Prints arm-none-eabi-size of the core and of the program, and what the
#    core adds to the linked image (from the linker map).
# 4. Fails if a heap (malloc, free, operator new/delete) or exception handling
#    (__cxa_*, the personality routine, the unwinder) is linked, naming the
#    symbol and who pulled it in.
# 5. Runs the program under QEMU (mps2-an386, a Cortex-M4 with FPU) with
#    semihosting and fails unless it reports that the device computed what the
#    host computed.
#
# Idempotent: trees are reused, the fixture header is replaced only when its
# content changes, so a second run rebuilds nothing.
#
# Environment: EDGEFLEET_MCU_OPTS (default "-O2 -Os"; the first is the one
# the summary calls the product), EDGEFLEET_MCU_BUILD (default build-mcu),
# EDGEFLEET_DATA (the recordings, see ml/dataset.h).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-build}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
OUT="${EDGEFLEET_MCU_BUILD:-$ROOT/build-mcu}"
[[ "$OUT" = /* ]] || OUT="$ROOT/$OUT"
read -r -a OPTS <<<"${EDGEFLEET_MCU_OPTS:--O2 -Os}"
QEMU_MACHINE=mps2-an386
QEMU_TIMEOUT=60

die() {
  echo "build-mcu: FAILED: $*" >&2
  exit 1
}

step() { echo "build-mcu: $*"; }

# Runs a command quietly; on failure shows its output and stops.
quiet() {
  local log="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    return 1
  fi
}

for tool in arm-none-eabi-g++ arm-none-eabi-size arm-none-eabi-nm cmake ninja; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
command -v qemu-system-arm >/dev/null ||
  die "qemu-system-arm not found (scripts/install-deps.sh installs it): the program cannot be run"

mkdir -p "$OUT/fixture"
cd "$ROOT"

# ---- 1. the fixture, from the host build -------------------------------------
[[ -f "$BUILD/CMakeCache.txt" ]] || die "no host build in $BUILD (run make build first)"
step "host: building edgefleet-mcu-fixture in ${BUILD#"$ROOT"/}"
if ! cmake --build "$BUILD" --target edgefleet-mcu-fixture >"$OUT/host-build.log" 2>&1; then
  if grep -qE "unknown target|No rule to make target" "$OUT/host-build.log"; then
    die "the host build has no target edgefleet-mcu-fixture: the top-level CMakeLists.txt needs add_subdirectory(mcu)"
  fi
  cat "$OUT/host-build.log" >&2
  die "building edgefleet-mcu-fixture"
fi
quiet "$OUT/fixture/generate.log" "$BUILD/bin/edgefleet-mcu-fixture" "$OUT/fixture/fixture.h.new" ||
  die "edgefleet-mcu-fixture"
if cmp -s "$OUT/fixture/fixture.h.new" "$OUT/fixture/fixture.h"; then
  rm "$OUT/fixture/fixture.h.new"
else
  mv "$OUT/fixture/fixture.h.new" "$OUT/fixture/fixture.h"
fi
step "fixture: $(sed 's/^edgefleet-mcu-fixture: [^:]*: //' "$OUT/fixture/generate.log")"

# The cross build treats warnings as the host build does.
WERROR=$(sed -n 's/^EDGEFLEET_WERROR:BOOL=//p' "$BUILD/CMakeCache.txt")
WERROR=${WERROR:-OFF}

# ---- checks ------------------------------------------------------------------
# Heap and exception-handling symbols: none may be defined or referenced.
FORBIDDEN='^(malloc|free|calloc|realloc|memalign|posix_memalign|_malloc_r|_free_r|_calloc_r|_realloc_r|_sbrk|_sbrk_r|_Zn[wa][jm].*|_Zd[la]Pv.*|__cxa_throw|__cxa_rethrow|__cxa_begin_catch|__cxa_end_catch|__cxa_allocate_exception|__cxa_free_exception|__cxa_call_unexpected|__cxa_guard_acquire|__cxa_guard_release|__cxa_guard_abort|__gxx_personality_v0|_Unwind_.*|__aeabi_unwind_cpp_pr[0-9])$'

# check_symbols LABEL NM_OUTPUT_FILE [MAP]: fails naming each forbidden symbol
# and, with a map, where it is defined and who references it.
check_symbols() {
  local label="$1" symbols="$2" map="${3:-}" hits
  hits=$(awk '{print $NF}' "$symbols" | grep -E "$FORBIDDEN" | sort -u || true)
  [[ -z "$hits" ]] && return 0
  local sym
  for sym in $hits; do
    echo "build-mcu: forbidden symbol in $label: $sym" >&2
    if [[ -n "$map" ]]; then
      # --cref: the first file defines the symbol, the others reference it.
      awk -v s="$sym" '
        /^Cross Reference Table/ { table = 1; next }
        table && $1 == s { show = 1; print "    defined in   " $2; next }
        table && show && /^ / { print "    referenced by " $1; next }
        show { exit }' "$map" >&2
    else
      grep -E "[[:space:]]$sym\$" "$symbols" | sed 's/^/    /' >&2
    fi
  done
  die "$label links a heap or exception handling (see above); the core and the program must not"
}

# linked_sizes MAP: text, data and bss that each origin adds to the image,
# from the input sections the linker kept.
linked_sizes() {
  awk '
    /^Linker script and memory map/ { inmap = 1; next }
    !inmap { next }
    /^Cross Reference Table/ { exit }
    function hex(s,   i, v) {  # mawk has no strtonum
      s = tolower(s)
      sub(/^0x/, "", s)
      for (i = 1; i <= length(s); ++i) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return v
    }
    function add(name, size, file,   kind, origin) {
      if (name ~ /^\.(text|rodata|isr_vector|ARM\.exidx|ARM\.extab|init_array)/) kind = "text"
      else if (name ~ /^\.data/) kind = "data"
      else if (name ~ /^\.bss/ || name == "COMMON") kind = "bss"
      else return
      if (file ~ /libedgefleet_core_mcu\.a/) origin = "core"
      else if (file ~ /(main|startup)\.cc\.obj/) origin = "program"
      else if (file ~ /libm[a-z_]*\.a/) origin = "libm"
      else if (file ~ /libc[a-z_]*\.a/) origin = "libc"
      else if (file ~ /libgcc\.a/) origin = "libgcc"
      else origin = "other"
      bytes[origin, kind] += hex(size)
    }
    /^ [.A-Za-z_][^ ]*$/ { pending = $1; next }
    /^ [.A-Za-z_][^ ]* +0x[0-9a-f]+ +0x[0-9a-f]+ / { add($1, $3, $4); pending = ""; next }
    pending != "" && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ [^ ]/ { add(pending, $2, $3); pending = ""; next }
    { pending = "" }
    END {
      n = split("core program libm libc libgcc other", origins, " ")
      for (i = 1; i <= n; ++i) {
        o = origins[i]
        if (bytes[o, "text"] + bytes[o, "data"] + bytes[o, "bss"] == 0) continue
        printf "%s %d %d %d\n", o, bytes[o, "text"], bytes[o, "data"], bytes[o, "bss"]
      }
    }' "$1"
}

# ---- 2-5. per optimisation level: build, sizes, symbols, run ------------------
declare -A SUMMARY
for opt in "${OPTS[@]}"; do
  tree="$OUT/${opt#-}"
  step "$opt: cross-compiling into ${tree#"$ROOT"/}"
  quiet "$tree.configure.log" cmake -S "$ROOT/mcu/target" -B "$tree" -G Ninja \
    --toolchain "$ROOT/cmake/arm-none-eabi.cmake" \
    -DEDGEFLEET_MCU_FIXTURE_DIR="$OUT/fixture" -DEDGEFLEET_MCU_OPT="$opt" \
    -DEDGEFLEET_WERROR="$WERROR" || die "configuring mcu/target ($opt)"
  quiet "$tree.build.log" cmake --build "$tree" || die "building mcu/target ($opt)"

  lib="$tree/libedgefleet_core_mcu.a"
  elf="$tree/edgefleet-mcu.elf"
  map="$tree/edgefleet-mcu.map"

  arm-none-eabi-nm -A "$lib" >"$tree/core.nm"
  arm-none-eabi-nm "$elf" >"$tree/program.nm"
  check_symbols "the core ($opt, libedgefleet_core_mcu.a)" "$tree/core.nm"
  check_symbols "the program ($opt, edgefleet-mcu.elf)" "$tree/program.nm" "$map"

  echo "  arm-none-eabi-size -t libedgefleet_core_mcu.a ($opt):"
  arm-none-eabi-size -t "$lib" | sed -e 's/ (ex .*libedgefleet_core_mcu.a)//' -e 's/^/    /'
  echo "  arm-none-eabi-size edgefleet-mcu.elf ($opt):"
  arm-none-eabi-size "$elf" | sed 's/^/    /'
  echo "  linked into edgefleet-mcu.elf, by origin (text data bss):"
  linked_sizes "$map" | tee "$tree/linked.txt" | awk '{printf "    %-8s %7d %5d %6d\n", $1, $2, $3, $4}'
  fixture_bytes=$(arm-none-eabi-nm -S -C "$elf" | awk '/fixture::k(Artifact|Window|ExpectedSummary)$/ {print $2}' |
    while read -r size; do echo $((16#$size)); done | awk '{s += $1} END {print s + 0}')
  echo "    (program includes $fixture_bytes bytes of fixture data: artifact, window, expected values)"

  read -r core_text core_data core_bss _ < <(arm-none-eabi-size -t "$lib" | tail -1)
  read -r elf_text elf_data elf_bss _ < <(arm-none-eabi-size "$elf" | tail -1)
  read -r _ linked_text linked_data linked_bss < <(grep '^core ' "$tree/linked.txt" || echo "core 0 0 0")

  step "$opt: running under qemu-system-arm -M $QEMU_MACHINE"
  log="$tree/qemu.log"
  set +e
  timeout "$QEMU_TIMEOUT" qemu-system-arm -M "$QEMU_MACHINE" -display none -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$elf" </dev/null >"$log" 2>&1
  status=$?
  set -e
  sed 's/^/    /' "$log"
  if [[ $status -eq 124 ]]; then
    die "$opt: the program did not finish within ${QEMU_TIMEOUT}s under QEMU"
  fi
  if [[ $status -ne 0 ]] || ! grep -qx 'edgefleet-mcu: PASS' "$log"; then
    die "$opt: the program on the Cortex-M4F does not match the host (QEMU exit status $status, log $log)"
  fi
  score=$(sed -n 's/^  ok   score: .*(host .*, \([0-9]*\) ulp)$/\1/p' "$log")
  arena=$(sed -n 's/.*RequiredArenaBytes \([0-9]*\).*/\1/p' "$log")
  stack=$(sed -n 's/.*stack used \([0-9]*\) of.*/\1/p' "$log")
  SUMMARY[$opt]=$(printf '  %-4s  %-15s  %-15s  %-16s  PASS: score %s ulp from host, arena %s B, stack %s B' \
    "$opt" "$core_text/$core_data/$core_bss" "$linked_text/$linked_data/$linked_bss" \
    "$elf_text/$elf_data/$elf_bss" "$score" "$arena" "$stack")
done

echo
echo "build-mcu: summary (arm-none-eabi-g++ $(arm-none-eabi-g++ -dumpversion), Cortex-M4F hard-float; bytes text/data/bss)"
printf '  %-4s  %-15s  %-15s  %-16s  %s\n' opt "core .a" "core linked" "program .elf" "run on QEMU $QEMU_MACHINE"
for opt in "${OPTS[@]}"; do echo "${SUMMARY[$opt]}"; done
echo "build-mcu: OK (no heap, no exception handling linked; device matches host)"
