// SPDX-License-Identifier: Apache-2.0
// Fixed-point and float-bit helpers for cores whose floats are library calls (simd::target::
// soft_float; the functions are plain C++ and run, and are tested, everywhere):
//   mul_high(a, b)           the high word of a 32 x 32 -> 64-bit product (RISC-V mulh/mulhu, Arm SMULL/UMULL)
//   exp2_negative_q31(f)     2^-f in Q30 for f in [0, 1) in Q31: a degree-5 polynomial by Horner in Q30
//                            (coefficients: a fit at Chebyshev nodes, the constant term set to 1), exactly
//                            2^30 at 0, monotone, relative error <= 2^-22.2
//   times_power_of_two(f, n) f 2^n by adding n to f's exponent field where f and the result are normal
//   silu(x)                  x / (1 + e^-x) for |x| < 32 with one 64-bit division and one float multiply
//                            instead of expf (a dozen soft-float calls): a = |x| log2(e) in Q24 from x's
//                            bits, 2^-a = 2^-n 2^-f by the polynomial, then sigmoid(x) = 1 / (1 + 2^-a)
//                            (x >= 0) or 2^-f / (1 + 2^-a) times 2^-n (x < 0) in Q30; |x| >= 32, inf
//                            and NaN take the float formula. Relative error <= 2^-21 (test_fixed_point).
#pragma once

#include "../base/language_check.hpp"

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ctattn::simd::fixed_point {

/// The high word of a signed 32 x 32 -> 64-bit product: one mulh (RISC-V), SMULL (Arm).
[[gnu::always_inline]] inline std::int32_t mul_high(std::int32_t a, std::int32_t b) noexcept {
    return static_cast<std::int32_t>((static_cast<std::int64_t>(a) * b) >> 32);
}
/// The high word of an unsigned 32 x 32 -> 64-bit product: one mulhu (RISC-V), UMULL (Arm).
[[gnu::always_inline]] inline std::uint32_t mul_high(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(a) * b) >> 32);
}

/// 2^-f in Q30 for f = fraction / 2^31 in [0, 1) (see the header).
[[gnu::always_inline]] inline std::uint32_t exp2_negative_q31(std::uint32_t fraction) noexcept {
    // Horner with f in Q31 (fraction < 2^31): y f = 2 mul_high(y, f) for y in Q30 (no step overflows).
    const std::int32_t f = static_cast<std::int32_t>(fraction);
    std::int32_t y = -1016701;
    y = 9888282 + mul_high(y, f) * 2;
    y = -59375904 + mul_high(y, f) * 2;
    y = 257890191 + mul_high(y, f) * 2;
    y = -744256774 + mul_high(y, f) * 2;
    y = 1073741824 + mul_high(y, f) * 2;
    return static_cast<std::uint32_t>(y);
}

/// f 2^n: one exponent-field addition where f is normal and the result stays normal, else float
/// multiplies by powers of two (subnormal or overflowing results: rare).
inline float times_power_of_two(float f, std::int32_t n) noexcept {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
    const std::int32_t e = std::int32_t((bits >> 23) & 0xffu);
    if ((bits << 1) == 0) return f;  // +-0
    if (e != 0 && e != 255 && e + n >= 1 && e + n <= 254) return std::bit_cast<float>(bits + (std::uint32_t(n) << 23));
    for (; n > 100; n -= 100) f *= 0x1p100f;
    for (; n < -100; n += 100) f *= 0x1p-100f;
    return f * std::bit_cast<float>(std::uint32_t(n + 127) << 23);
}

/// silu(x) = x / (1 + e^-x) without a float exp (see the header).
inline float silu(float x) noexcept {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
    const std::uint32_t biased = (bits >> 23) & 0xffu;
    if (biased >= 127 + 5) return x / (1.0f + std::exp(-x));  // |x| >= 32, inf, NaN
    const std::uint32_t mantissa = (bits & 0x007fffffu) | (biased != 0 ? 0x00800000u : 0u);
    const std::int32_t exponent = biased != 0 ? std::int32_t(biased) : 1;
    // |x| = m 2^(e - 150); m 2^8 log2(e) 2^31 / 2^32 = m log2(e) 2^7, so a in Q24 is that >> (133 - e).
    constexpr std::uint32_t log2_e_q31 = 3098164010u;  // log2(e) 2^31, rounded
    const std::uint32_t scaled = mul_high(mantissa << 8, log2_e_q31);
    const std::int32_t shift = 133 - exponent;  // >= 2 for |x| < 32
    const std::uint32_t a = shift >= 32 ? 0u : scaled >> shift;  // |x| log2(e) in Q24, < 2^30
    const std::uint32_t n = a >> 24;
    const std::uint32_t p = exp2_negative_q31((a & 0x00ffffffu) << 7);  // 2^-f in Q30
    const std::uint64_t denominator = (std::uint64_t{1} << 30) + (n >= 31 ? 0u : p >> n);  // 1 + 2^-a in Q30
    if ((bits >> 31) == 0) {
        const std::uint32_t s = std::uint32_t((std::uint64_t{1} << 60) / denominator);  // 1 / (1 + 2^-a), Q30
        return x * times_power_of_two(float(std::int32_t(s)), -30);
    }
    const std::uint32_t s = std::uint32_t((std::uint64_t(p) << 30) / denominator);  // 2^-f / (1 + 2^-a), Q30
    return x * times_power_of_two(float(std::int32_t(s)), -30 - std::int32_t(n));
}

}  // namespace ctattn::simd::fixed_point
