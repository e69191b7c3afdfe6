// SPDX-License-Identifier: Apache-2.0
// 8-bit group arithmetic (Q8: symmetric int8 with one float scale per group of G values), the two
// primitives every int8 kernel is built from:
//   quantize:  s_g = max_{i in g} |x_i| / 127,  q_i = round(x_i / s_g)  in [-127, 127]
//   row dot:   y = sum_g (sw_g * sx_g) * sum_{i in g} w_i * q_i   (int32 inside a group, one float
//              multiply-add per group)
// This file is the one place that decides which body runs; the scalar bodies here run on every
// core (integer multiply-adds, so cores without an FPU pay one float operation per group, not per
// weight). Per-ISA bodies live beside it in simd/<isa> files and are chosen below.
#pragma once

#include "target.hpp"
#include "mve.hpp"

#include <cstddef>
#include <cstdint>

namespace ctattn::simd {

/// Largest group a Q8 dot accepts: 127 * 127 * 65536 < 2^31, so a group's int32 sum cannot overflow.
inline constexpr std::size_t q8_max_group = 65536;

namespace scalar_q8 {

/// Quantizes `groups` groups of G floats: xq[i] = round(x[i] / xs[g]), xs[g] = max |x| / 127 over
/// the group. A group of zeros (or of values so small that the scale underflows) gets scale 0 and
/// all-zero codes. x must be finite (the callers' activations are: docs/design.md, numeric contract).
template <std::size_t G>
inline void quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept {
    static_assert(G >= 1 && G <= q8_max_group, "ctattn: a Q8 group holds 1..65536 values");
    for (std::size_t g = 0; g < groups; ++g) {
        const float* xg = x + g * G;
        float amax = 0.0f;
        for (std::size_t i = 0; i < G; ++i) {
            const float a = xg[i] < 0.0f ? -xg[i] : xg[i];
            amax = a > amax ? a : amax;
        }
        const float scale = amax / 127.0f;
        xs[g] = scale;
        std::int8_t* qg = xq + g * G;
        if (scale == 0.0f) {
            for (std::size_t i = 0; i < G; ++i) qg[i] = 0;
            continue;
        }
        for (std::size_t i = 0; i < G; ++i) {
            // |x / scale| <= 127 up to one rounding of the division; the clamp keeps the code in range.
            const float v = xg[i] / scale;
            int q = static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f));
            q = q > 127 ? 127 : (q < -127 ? -127 : q);
            qg[i] = static_cast<std::int8_t>(q);
        }
    }
}

/// sum over g < groups of (ws[g] * xs[g]) * (sum over i < G of w[g*G + i] * xq[g*G + i]).
template <std::size_t G>
inline float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                     std::size_t groups) noexcept {
    static_assert(G >= 1 && G <= q8_max_group, "ctattn: a Q8 group holds 1..65536 values");
    float sum = 0.0f;
    for (std::size_t g = 0; g < groups; ++g) {
        std::int32_t acc = 0;
        for (std::size_t i = 0; i < G; ++i)
            acc += std::int32_t(w[g * G + i]) * std::int32_t(xq[g * G + i]);
        sum += (ws[g] * xs[g]) * static_cast<float>(acc);
    }
    return sum;
}

}  // namespace scalar_q8

/// Quantizes `groups` groups of G finite floats to Q8 codes and scales (see scalar_q8::quantize).
template <std::size_t G>
inline void q8_quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept {
    scalar_q8::quantize<G>(x, groups, xq, xs);
}

/// One output of a Q8 matrix-vector product: a weight row (groups * G codes, scales ws) against
/// quantized activations (codes xq, scales xs). See scalar_q8::row_dot for the formula.
template <std::size_t G>
inline float q8_row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                        std::size_t groups) noexcept {
    if constexpr (target::mve_int)
        return mve::q8_row_dot<G>(w, ws, xq, xs, groups);  // Helium: VMLADAVA, same result
    else
        return scalar_q8::row_dot<G>(w, ws, xq, xs, groups);
}

}  // namespace ctattn::simd
