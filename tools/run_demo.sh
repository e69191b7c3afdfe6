#!/usr/bin/env bash
# Fresh Debian 12 to running demo: install what is missing, configure, build, run.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
ctattn_install_missing "${CTATTN_PACKAGES[@]}"
[ -d build-simd ] || meson setup build-simd -Dsimd=auto
meson compile -C build-simd examples/attention_demo
./build-simd/examples/attention_demo
