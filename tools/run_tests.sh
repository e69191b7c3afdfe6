#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fresh Debian 12 to the whole test suite: install what is missing, then build and test every
# configuration below (each in its own folder) and print one closing line "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
ctattn_install_missing "${CTATTN_PACKAGES[@]}" "${CTATTN_SUITE_PACKAGES[@]}" "${CTATTN_CROSS_PACKAGES[@]}"

# folder | meson setup options
# The cross builds (cross/): the host suite for aarch64 (NEON through xsimd) under
# qemu-aarch64; firmware tests under qemu-system-arm on Cortex-M3, M4F, M7 (scalar path) and the
# Cortex-M55 twice (Helium, build-m55; the scalar arch, build-m55-scalar), where the host's Catch2
# kernel tests also run as bare-metal images; and under qemu-system-riscv32 on two RV32 cores
# (rv32imafc, rv32imac; scalar path). Measured on the shared 2-core machine: each RV32 folder
# 14-18 s of CPU to build and 3-8 s to test; each M55 folder about 70 s of CPU to build (the nine
# kernel-test images 38-46 s of it) and 35-40 s to test (test_kv_rows' float16 sweep 28 s).
# The benchmarks build once, in build-simd, where bench_smoke checks every implementation agrees.
builds=(
  "build-simd|-Dsimd=auto"
  "build-scalar|-Dsimd=scalar -Dbench=disabled"
  "build-aarch64|--cross-file cross/aarch64-linux-gnu.ini"
  "build-m3|--cross-file cross/cortex-m3.ini --cross-file cross/arm-none-eabi.ini"
  "build-m4|--cross-file cross/cortex-m4f.ini --cross-file cross/arm-none-eabi.ini"
  "build-m7|--cross-file cross/cortex-m7.ini --cross-file cross/arm-none-eabi.ini"
  # -Dsimd=auto: a build-m55 set up before Helium took its simd=scalar from arm-none-eabi.ini, and
  # a reconfigure keeps it.
  "build-m55|--cross-file cross/cortex-m55.ini --cross-file cross/arm-none-eabi.ini -Dsimd=auto"
  "build-m55-scalar|--cross-file cross/cortex-m55-scalar.ini --cross-file cross/arm-none-eabi.ini"
  "build-rv32imafc|--cross-file cross/riscv-rv32imafc.ini --cross-file cross/riscv64-unknown-elf.ini"
  "build-rv32imac|--cross-file cross/riscv-rv32imac.ini --cross-file cross/riscv64-unknown-elf.ini"
)

# --- sanitizers ---
# The host test suite once more under AddressSanitizer + UndefinedBehaviorSanitizer (GCC): tests
# and their programs only (no benchmarks, no examples), at -O0: instrumented code costs GCC ~10x
# more to compile at -O1 (test_golden_lm.cpp: 12 s of CPU at -O0, 124 s at -O1, 13 s for the
# plain -O3 build), which the CI budget cannot pay; the suite also passes at -O1. Any
# undefined behaviour aborts the test (-fno-sanitize-recover). ASan's leak checker is off: it
# needs ptrace, which containers often refuse, and nothing here frees through exit paths anyway.
builds+=("build-asan|-Db_sanitize=address,undefined -Db_lundef=false -Dbench=disabled -Dexamples=disabled -Doptimization=0 -Dcpp_args=-fno-sanitize-recover=undefined")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# --- end of sanitizers ---

# ---- clang ---------------------------------------------------------------------------------
# The host test suite once more with Debian's clang 14 (cross/clang-14.ini: same warnings, -Werror
# and -march=native as GCC; benchmarks off; the consumer builds run in build-simd only), so that
# code GCC accepts and clang rejects cannot land. At -O0: the folder is there for clang's front end
# and its warnings (optimised code runs in every other host folder), and clang's optimiser was most
# of its build. Measured on the 2-core machine: 358 s to build and 22 s to test at -O2 (in a full
# suite run), 97 s and 75 s at -O0 (alone; train_chars' 100 steps are 60 s of that).
# `--clang` (the former opt-in) is still accepted and changes nothing.
builds+=("build-clang|--native-file cross/clang-14.ini -Dbench=disabled -Doptimization=0")
for arg in "$@"; do
  case "$arg" in
    --clang) ;;
    *) echo "tools/run_tests.sh: ignoring unknown argument $arg" >&2 ;;
  esac
done

jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
report=()
for entry in "${builds[@]}"; do
  dir=${entry%%|*}
  opts=${entry#*|}
  echo "=== $dir ($opts)"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  ctattn_setup "$dir" $opts >/dev/null
  meson compile -C "$dir" -j "$jobs"
  t1=$(date +%s)
  # --no-rebuild: what the default build made must be all the tests need (a user's route too).
  meson test -C "$dir" --no-rebuild --num-processes "$jobs" --print-errorlogs || true
  t2=$(date +%s)
  counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r != "SKIP":
        bad += 1
print(ok, bad)
PY
)
  read -r ok bad <<<"$counts"
  passed=$((passed + ok))
  failed=$((failed + bad))
  report+=("$dir: build $((t1 - t0))s, tests $((t2 - t1))s, $ok passed, $bad failed")
done

# --- fuzzing ---
# Each libFuzzer target (tests/fuzz) built with clang++-14 and run for CTATTN_FUZZ_SECONDS (20 by
# default: 5 targets x 20 s keep the suite inside its CI budget), $jobs targets at a time, from its checked-in seeds; new inputs go to a scratch corpus, the seeds stay as they are.
# A crash, a sanitizer report or a broken contract (the targets abort) fails the run. Skipped
# without clang. The long-run command is in docs/formats.md.
ctattn_install_missing "${CTATTN_FUZZ_PACKAGES[@]}" || echo "ctattn: clang-14 not installable, fuzzing skipped"
if command -v clang++-14 >/dev/null 2>&1; then
  fuzz_seconds=${CTATTN_FUZZ_SECONDS:-20}
  mkdir -p build-fuzz
  # One target: build, then fuzz; its report line goes to build-fuzz/<target>.status. Each libFuzzer
  # run is one process on one core, so the targets go $jobs at a time (build and run alike).
  fuzz_one() {
    local target=$1 t0 t1 t2 fuzz_ok=0 runs
    t0=$(date +%s)
    rm -f "build-fuzz/fuzz_$target.log"
    if clang++-14 -std=c++20 -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
         -fno-sanitize-recover=undefined -Iinclude -DCTATTN_SIMD_SCALAR=1 \
         "tests/fuzz/fuzz_$target.cpp" -o "build-fuzz/fuzz_$target"; then
      t1=$(date +%s)
      rm -rf "build-fuzz/corpus_$target" && mkdir -p "build-fuzz/corpus_$target"
      if "build-fuzz/fuzz_$target" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
           -artifact_prefix="build-fuzz/crash_${target}_" "build-fuzz/corpus_$target" "tests/fuzz/corpus/$target" \
           >"build-fuzz/fuzz_$target.log" 2>&1; then
        fuzz_ok=1
      else
        tail -n 40 "build-fuzz/fuzz_$target.log"
      fi
    else
      t1=$(date +%s)
    fi
    t2=$(date +%s)
    runs=$( (sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/fuzz_$target.log" 2>/dev/null || true) | tail -n 1)
    echo "$fuzz_ok fuzz_$target: build $((t1 - t0))s, run $((t2 - t1))s, ${runs:-0} executions, $([ "$fuzz_ok" -eq 1 ] && echo passed || echo FAILED)" \
      >"build-fuzz/$target.status"
  }
  fuzz_targets=(llama2c tokenizer blob c_api attention)
  running=0
  for target in "${fuzz_targets[@]}"; do
    echo "=== fuzz_$target (${fuzz_seconds} s)"
    rm -f "build-fuzz/$target.status"
    fuzz_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  done
  wait || true
  for target in "${fuzz_targets[@]}"; do
    status="0 fuzz_$target: FAILED (no report)"
    [ -f "build-fuzz/$target.status" ] && status=$(cat "build-fuzz/$target.status")
    if [ "${status%% *}" = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    report+=("${status#* }")
  done
else
  report+=("fuzzing: skipped (no clang++-14)")
fi
# --- end of fuzzing ---

echo
echo "=== summary"
for line in "${report[@]}"; do echo "$line"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
