// SPDX-License-Identifier: Apache-2.0
// The Q8 row dot (simd/q8.hpp) with its group scales applied in integers, for cores whose floats
// are library calls (simd::target::soft_float: RV32IMAC, Cortex-M3), where the scalar body's two
// float multiplies, float add and conversion per group cost ~400 instructions. Each float scale is
// m 2^(e - 150) (m its 24-bit mantissa with the implicit bit, e its biased exponent, 1 for
// subnormals), so
//   y = sum_g (sw_g sx_g) acc_g = 2^(E - 283) sum_g acc_g (P_g >> (E - e_g)),
//   P_g = floor(m_w m_x / 2^17) < 2^31,  e_g = e_w + e_x,  E = max_g e_g,
// one 32 x 32 -> 64-bit product per group summed in int64 (|acc_g| <= G 128 x 127, so rows of up to
// 2^18 inputs cannot overflow), then one int64 -> float conversion and an exponent adjustment per
// output. P_g keeps 29 bits for the groups of the largest scale product, 29 - k for one 2^-k of it
// (float's own products and sum round at 2^-24).
// A non-finite scale (never written by the quantizers; activations are finite by the numeric
// contract) takes the float formula. The activations' codes likewise (quantize, below).
#pragma once

#include "fixed_point.hpp"
#include "q8_group_dot.hpp"
#include "target.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>

namespace ctattn::simd::q8_soft_float {

/// Quantizes `groups` groups of G finite floats as simd::q8_quantize (xs[g] = max|x| / 127 in float,
/// one division per group) with the codes in integers: q = round(x / s) half away from zero, from
/// the bits, |x| / s = (m_x / m_s) 2^(e_x - e_s) = m_x R 2^(e_x - e_s - 54), R = floor(2^54 / m_s)
/// once per group: one mulhu / UMULL and a shift per value instead of a float division, add and
/// conversion. Equal to the float body's codes but where x / s lies within 2^-22 of a half-integer.
template <std::size_t G>
inline void quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept {
    for (std::size_t g = 0; g < groups; ++g) {
        const float* xg = x + g * G;
        std::int8_t* qg = xq + g * G;
        std::uint32_t largest = 0;  // |x| compares as its bits (finite x)
        for (std::size_t i = 0; i < G; ++i) {
            const std::uint32_t a = std::bit_cast<std::uint32_t>(xg[i]) & 0x7fffffffu;
            largest = a > largest ? a : largest;
        }
        const float scale = std::bit_cast<float>(largest) / 127.0f;
        xs[g] = scale;
        const std::uint32_t bs = std::bit_cast<std::uint32_t>(scale);
        if (bs == 0) {
            for (std::size_t i = 0; i < G; ++i) qg[i] = 0;
            continue;
        }
        const std::uint32_t es = bs >> 23;
        const std::uint32_t ms = (bs & 0x007fffffu) | (es != 0 ? 0x00800000u : 0u);
        const std::int32_t scale_exponent = es != 0 ? std::int32_t(es) : 1;
        // 2^54 / m_s < 2^32 for normal scales (m_s >= 2^23); a subnormal scale's smaller m_s is
        // normalised first (its exponent lowered to match).
        std::uint32_t m = ms;
        std::int32_t e_s = scale_exponent;
        while (m < 0x00800000u) m <<= 1, --e_s;
        const std::uint32_t reciprocal = std::uint32_t((std::uint64_t{1} << 54) / m);
        for (std::size_t i = 0; i < G; ++i) {
            const std::uint32_t bits = std::bit_cast<std::uint32_t>(xg[i]);
            const std::uint32_t ex = (bits >> 23) & 0xffu;
            std::uint32_t mx = (bits & 0x007fffffu) | (ex != 0 ? 0x00800000u : 0u);
            std::int32_t e_x = ex != 0 ? std::int32_t(ex) : 1;
            if (ex == 0 && mx != 0)  // a subnormal x, normalised as the scale is (|x| <= 127.x s bounds e_x - e_s)
                while (mx < 0x00800000u) mx <<= 1, --e_x;
            // 2 |x| / s = m_x R 2^(e_x - e_s - 53): the high word, shifted right by 21 - (e_x - e_s)
            // (>= 14 for a nonzero x: |x| <= 127.x s). x = 0 stands at e_x = 1, which beside a
            // subnormal scale (e_s lowered by its normalisation) can make the shift negative: its
            // code is 0 without a shift (a negative shift count is undefined behaviour).
            const std::int32_t shift = 21 - (e_x - e_s);
            const std::uint32_t twice =
                mx == 0 || shift >= 32 ? 0u : fixed_point::mul_high(mx, reciprocal) >> (shift < 0 ? 0 : shift);
            std::uint32_t magnitude = (twice + 1) >> 1;
            magnitude = magnitude > 127u ? 127u : magnitude;
            qg[i] = static_cast<std::int8_t>((bits >> 31) != 0 ? -std::int32_t(magnitude) : std::int32_t(magnitude));
        }
    }
}

/// One output of a Q8 matrix-vector product, as simd::q8_row_dot (see the header for the formula).
template <std::size_t G>
inline float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                     std::size_t groups) noexcept {
    // The largest exponent sum over the row's groups (and whether every scale is finite).
    std::int32_t top = 0;
    bool finite = true;
    for (std::size_t g = 0; g < groups; ++g) {
        const std::uint32_t ew = (std::bit_cast<std::uint32_t>(ws[g]) >> 23) & 0xffu;
        const std::uint32_t ex = (std::bit_cast<std::uint32_t>(xs[g]) >> 23) & 0xffu;
        finite = finite && ew != 0xffu && ex != 0xffu;
        const std::int32_t e = std::int32_t((ew != 0 ? ew : 1u) + (ex != 0 ? ex : 1u));
        top = e > top ? e : top;
    }
    std::int64_t sum = 0;
    float fallback = 0.0f;
    for (std::size_t g = 0; g < groups; ++g) {
        const std::int32_t acc = q8_group_dot<G>(w + g * G, xq + g * G);
        if (!finite) {
            fallback += (ws[g] * xs[g]) * static_cast<float>(acc);
            continue;
        }
        const std::uint32_t bw = std::bit_cast<std::uint32_t>(ws[g]), bx = std::bit_cast<std::uint32_t>(xs[g]);
        const std::uint32_t ew = (bw >> 23) & 0xffu, ex = (bx >> 23) & 0xffu;
        const std::uint32_t mw = (bw & 0x007fffffu) | (ew != 0 ? 0x00800000u : 0u);
        const std::uint32_t mx = (bx & 0x007fffffu) | (ex != 0 ? 0x00800000u : 0u);
        // floor(m_w m_x / 2^17): the high word of (m_w 2^8)(m_x 2^7), one mulhu / UMULL.
        const std::uint32_t product = std::uint32_t((std::uint64_t(mw << 8) * (mx << 7)) >> 32);
        const std::int32_t align = top - std::int32_t((ew != 0 ? ew : 1u) + (ex != 0 ? ex : 1u));
        const std::int32_t scale = std::int32_t(align > 31 ? 0u : product >> align);
        sum += std::int64_t(acc) * scale;
    }
    if (!finite) return fallback;
    return fixed_point::times_power_of_two(static_cast<float>(sum), top - 283);
}

}  // namespace ctattn::simd::q8_soft_float
