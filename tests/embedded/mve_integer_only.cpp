// SPDX-License-Identifier: Apache-2.0
// Compiled (not run) for a Cortex-M55 whose Helium has integer lanes only (-mcpu=cortex-m55+nomve.fp,
// __ARM_FEATURE_MVE == 1) by tests/embedded/meson.build: the float kernels fall back to the scalar
// arch cleanly, and the Q8 row dot still takes the integer MVE body.
#include <ctattn/kernels/activation.hpp>
#include <ctattn/kernels/decode/attention.hpp>
#include <ctattn/kernels/projection.hpp>
#include <ctattn/simd/q8.hpp>

#include <type_traits>

static_assert(!ctattn::simd::target::mve_float, "integer-only MVE must not select the float Helium arch");
static_assert(ctattn::simd::target::mve_int, "integer-only MVE still has the integer lanes");
static_assert(std::is_same_v<ctattn::simd::default_arch, ctattn::simd::scalar_arch>,
              "integer-only MVE: the float kernels take the scalar arch");

float project_and_dot(const float* x, const float* w, float* y, const signed char* wq, const signed char* xq,
                      const float* s) {
    ctattn::kernels::project<64, 172>(1, x, w, nullptr, y);
    return ctattn::simd::q8_row_dot<32>(wq, s, xq, s, 2);
}
