// SPDX-License-Identifier: Apache-2.0
// AArch64 NEON body of simd/q8.hpp's group-scaled int8 row dot, y = sum_g (sw_g * sx_g) * sum_{i in g} w_i q_i:
// each group's int32 sum in four lanes, converted to float once per group and multiply-added with
// the group's scale product; one horizontal sum per row.
//   with the dot-product extension: sdot (vdotq_s32), 16 signed products into 4 lanes, exact
//   without it: smull + smlal2 (16 bytes into 8 int16 pairs), then sadalp into 4 int32 lanes
// Declared on every target, defined only where simd/target.hpp says NEON is there.
#pragma once

#include "target.hpp"

#include <cstddef>
#include <cstdint>

#if defined(CTATTN_Q8_NEON)
#include <arm_neon.h>
#endif

namespace ctattn::simd::q8_neon {

// The row dot of simd/q8.hpp (same arguments, same preconditions).
template <std::size_t G>
float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
              std::size_t groups) noexcept;

/// simd/q8.hpp's quantize on 4 lanes: the same operations per value as the scalar body (max |x|,
/// one division, +-0.5 and truncation, clamp), so the same codes and scales bit for bit.
template <std::size_t G>
void quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept;

#if defined(CTATTN_Q8_NEON)
namespace detail {

// Four int32 lanes += the products of 16 bytes. Without sdot: a pair w_i q_i + w_{i+8} q_{i+8}
// is at most 2 * 128 * 127 = 32512 in magnitude while q != -128 (q8_quantize's codes), so the
// int16 multiply-accumulate cannot wrap; weights may be -128.
inline int32x4_t step_16(int32x4_t acc, int8x16_t w, int8x16_t q) noexcept {
#if defined(CTATTN_Q8_NEON_DOTPROD)
    return vdotq_s32(acc, w, q);
#else
    const int16x8_t pairs = vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(q)), w, q);
    return vpadalq_s16(acc, pairs);
#endif
}

// The same for 8 bytes (a group's tail), into the low lanes.
inline int32x4_t step_8(int32x4_t acc, int8x8_t w, int8x8_t q) noexcept {
#if defined(CTATTN_Q8_NEON_DOTPROD)
    return vcombine_s32(vdot_s32(vget_low_s32(acc), w, q), vget_high_s32(acc));
#else
    return vpadalq_s16(acc, vmull_s8(w, q));
#endif
}

// One group's four int32 lanes: whole 16-byte vectors, one 8-byte step, the last 0..7 bytes into lane 0.
template <std::size_t G>
inline int32x4_t group_lanes(const std::int8_t* wg, const std::int8_t* xg) noexcept {
    int32x4_t lanes = vdupq_n_s32(0);
    constexpr std::size_t whole = G / 16, half = (G % 16) / 8, bytes = G % 8;
    for (std::size_t k = 0; k < whole; ++k) lanes = step_16(lanes, vld1q_s8(wg + 16 * k), vld1q_s8(xg + 16 * k));
    if constexpr (half > 0) lanes = step_8(lanes, vld1_s8(wg + 16 * whole), vld1_s8(xg + 16 * whole));
    if constexpr (bytes > 0) {
        std::int32_t rest = 0;
        for (std::size_t i = G - bytes; i < G; ++i) rest += std::int32_t(wg[i]) * std::int32_t(xg[i]);
        lanes = vaddq_s32(lanes, vsetq_lane_s32(rest, vdupq_n_s32(0), 0));
    }
    return lanes;
}

}  // namespace detail

template <std::size_t G>
inline float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                     std::size_t groups) noexcept {
    float32x4_t acc0 = vdupq_n_f32(0.0f);
    float32x4_t acc1 = vdupq_n_f32(0.0f);
    std::size_t g = 0;
    // Two accumulators: consecutive groups' multiply-adds do not wait for each other.
    for (; g + 2 <= groups; g += 2) {
        const int32x4_t lanes0 = detail::group_lanes<G>(w + g * G, xq + g * G);
        const int32x4_t lanes1 = detail::group_lanes<G>(w + (g + 1) * G, xq + (g + 1) * G);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(lanes0), ws[g] * xs[g]);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(lanes1), ws[g + 1] * xs[g + 1]);
    }
    if (g < groups) {
        const int32x4_t lanes = detail::group_lanes<G>(w + g * G, xq + g * G);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(lanes), ws[g] * xs[g]);
    }
    return vaddvq_f32(vaddq_f32(acc0, acc1));
}
template <std::size_t G>
inline void quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept {
    constexpr std::size_t whole = G / 8 * 8;
    for (std::size_t g = 0; g < groups; ++g) {
        const float* xg = x + g * G;
        std::int8_t* qg = xq + g * G;
        float32x4_t amax4 = vdupq_n_f32(0.0f);
        for (std::size_t i = 0; i < whole; i += 4) amax4 = vmaxq_f32(amax4, vabsq_f32(vld1q_f32(xg + i)));
        float amax = vmaxvq_f32(amax4);
        for (std::size_t i = whole; i < G; ++i) {
            const float a = xg[i] < 0.0f ? -xg[i] : xg[i];
            amax = a > amax ? a : amax;
        }
        const float scale = amax / 127.0f;
        xs[g] = scale;
        if (scale == 0.0f) {
            for (std::size_t i = 0; i < G; ++i) qg[i] = 0;
            continue;
        }
        const float32x4_t scale4 = vdupq_n_f32(scale);
        const float32x4_t half = vdupq_n_f32(0.5f), minus_half = vdupq_n_f32(-0.5f);
        const int32x4_t lo = vdupq_n_s32(-127), hi = vdupq_n_s32(127);
        for (std::size_t i = 0; i < whole; i += 8) {
            int32x4_t q[2];
            for (std::size_t h = 0; h < 2; ++h) {
                const float32x4_t v = vdivq_f32(vld1q_f32(xg + i + 4 * h), scale4);
                // v + (v >= 0 ? 0.5 : -0.5), truncated toward zero, clamped: as the scalar body.
                const float32x4_t rounded = vaddq_f32(v, vbslq_f32(vcgeq_f32(v, vdupq_n_f32(0.0f)), half, minus_half));
                q[h] = vminq_s32(vmaxq_s32(vcvtq_s32_f32(rounded), lo), hi);
            }
            vst1_s8(qg + i, vqmovn_s16(vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]))));
        }
        for (std::size_t i = whole; i < G; ++i) {
            const float v = xg[i] / scale;
            int q = static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f));
            q = q > 127 ? 127 : (q < -127 ? -127 : q);
            qg[i] = static_cast<std::int8_t>(q);
        }
    }
}
#endif  // CTATTN_Q8_NEON

}  // namespace ctattn::simd::q8_neon
