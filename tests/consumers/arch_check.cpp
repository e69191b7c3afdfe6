// SPDX-License-Identifier: Apache-2.0
// Compiled by run_consumer.py's bare-headers test for several targets with only ctattn's and the
// packages' folders on the path: the vector width simd.hpp chose by itself must be the one the
// target has (1: scalar path, 4: NEON or SSE, 8: AVX).
#include <ctattn/ctattn.hpp>

static_assert(ctattn::simd::width<ctattn::simd::default_arch> == CTATTN_EXPECTED_WIDTH,
              "simd.hpp chose the wrong path for this target");
