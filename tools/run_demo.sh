#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fresh Debian 12 to running demo: install what is missing, configure, build, run.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
ctattn_install_missing "${CTATTN_PACKAGES[@]}"
[ -d build-simd ] || meson setup build-simd -Dsimd=auto
meson compile -C build-simd examples/walkthrough examples/heatmap
./build-simd/examples/walkthrough cat
echo
echo "More: ./build-simd/examples/walkthrough [pizza | creature | kv | all] (the explainers, docs/walkthrough.md)"
echo "      ./build-simd/examples/heatmap OUT_DIR [../shared/models/stories260K.bin] (attention heatmaps as SVG)"
