// SPDX-License-Identifier: Apache-2.0
// exp for a softmax on a scalar FPU: 2^x by range reduction and a polynomial, about 16
// instructions on Cortex-M4F/M7 (newlib's expf takes ~35 and a call), no table, no branch:
//   x = n + f,  n = round(x), |f| <= 1/2;   2^x = 2^n * p(f),  p(f) = 1 + f (c1 + c2 f + ... + c5 f^4)
// p is a minimax fit of 2^f on [-1/2, 1/2] (relative error 9.2e-8 with these float coefficients,
// fitted for this file by Lawson's iteration in double). With the roundings of its Horner steps,
// exp2_approx is within 2.04 ulp of 2^x for normal results, within 1.5 x 2^-149 for denormal
// ones (tests/test_decode_attention.cpp checks 3.4 million arguments against double, every float
// exponent, and allows 2.5 ulp / 2 x 2^-149). exp_approx(x) = exp2_approx(x log2 e) adds the
// rounding of that product (up to |x| ulp), which is why the decode attention scores in base 2
// and calls exp2 directly.
// Domain: x <= 27 (softmax arguments are <= 0). -inf gives exactly 0 (masked keys), NaN gives NaN,
// results below FLT_MIN are correctly rounded denormals (up to p's error), 2^0 is exactly 1.
// Where it is used: the one-token decode attention of the scalar path (kernels/decode/attention.hpp),
// where every weight is divided by their sum >= 1 and 2 ulp of a weight is below the rounding of
// the weighted sum. Elsewhere (prefill, vector arches' softmax, SiLU, sampling) std::exp /
// xsimd::exp stay.
#pragma once

#include "../base/language_check.hpp"

#include <bit>
#include <cstdint>

namespace ctattn::kernels {

namespace detail {
// p(f)'s coefficients times 2^-100, so that p(f) * 2^(n + 100) is one rounding of 2^n p(f) even
// when the result is denormal (n down to -151), while 2^(n + 100) itself stays a normal float.
inline constexpr float exp2_c0 = 0x1p-100f;
inline constexpr float exp2_c1 = 0x1.62e42ap-1f * 0x1p-100f;
inline constexpr float exp2_c2 = 0x1.ebf9bcp-3f * 0x1p-100f;
inline constexpr float exp2_c3 = 0x1.c6b754p-5f * 0x1p-100f;
inline constexpr float exp2_c4 = 0x1.3cea92p-7f * 0x1p-100f;
inline constexpr float exp2_c5 = 0x1.5bba22p-10f * 0x1p-100f;

inline float fused(float a, float b, float c) noexcept {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__aarch64__)
    return __builtin_fmaf(a, b, c);
#else
    return a * b + c;
#endif
}
}  // namespace detail

// 2^x for x in [-151, 27] (no clamp: NaN gives NaN, below -151 the result is wrong). For
// callers that clamp on their own, e.g. with VMAXNM and a NaN check of their own.
[[gnu::always_inline]] inline float exp2_clamped(float x) noexcept {
    // Adding 1.5 * 2^23 rounds x to the nearest integer n (the float's ulp there is 1), which
    // lands in t's low mantissa bits: bits(t) = 0x4B400000 + n.
    constexpr float round_magic = 12582912.0f;
    const float t = x + round_magic;
    const float n = t - round_magic;
    const float f = x - n;  // exact, in [-1/2, 1/2]
    float p = detail::fused(detail::exp2_c5, f, detail::exp2_c4);
    p = detail::fused(p, f, detail::exp2_c3);
    p = detail::fused(p, f, detail::exp2_c2);
    p = detail::fused(p, f, detail::exp2_c1);
    p = detail::fused(p, f, detail::exp2_c0);
    // (bits(t) << 23) is n << 23 (the 0x4B400000 part shifts out), so adding (127 + 100) << 23
    // gives the float 2^(n + 100): its exponent field n + 227 lies in [76, 254] for n in [-151, 27].
    const std::uint32_t scale_bits = (std::bit_cast<std::uint32_t>(t) << 23) + (std::uint32_t(127 + 100) << 23);
    return p * std::bit_cast<float>(scale_bits);
}

// 2^-151 is below half the smallest denormal: everything under it rounds to 0.
inline constexpr float exp2_lowest = -151.0f;

// 2^x for x <= 27 (see above).
[[gnu::always_inline]] inline float exp2_approx(float x) noexcept {
    // The clamp keeps n (and the exponent built from it) in range; NaN fails the comparison and stays NaN.
    return exp2_clamped(x < exp2_lowest ? exp2_lowest : x);
}

inline constexpr float log2_e = 1.44269504088896341f;

// e^x = 2^(x log2 e), for x <= 18.7 (see above).
[[gnu::always_inline]] inline float exp_approx(float x) noexcept { return exp2_approx(x * log2_e); }

}  // namespace ctattn::kernels
