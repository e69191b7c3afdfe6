// SPDX-License-Identifier: Apache-2.0
// The exp family, one place for every kernel: e^x and 2^x with a generic body and per-ISA bodies
// (simd/x86.hpp, simd/arm_vfp.hpp, simd/riscv.hpp, simd/mve.hpp) chosen by simd/target.hpp.
//   exp(v)               e^x over the whole float range: softmax, SiLU, sampling. Scalar: exp_polynomial;
//                        vector: xsimd::exp, AVX-512: x86::exp_16 (inlined Cephes polynomial, <= 2 ulp),
//                        Helium: mve::exp_4 (the same polynomial).
//                        xsimd's exp (AVX2, SSE, NEON) gives +inf from about 88.38 and 0 below about
//                        -87.34, where e^x is still finite (up to 88.72) or denormal (down to -103.97):
//                        lanes beyond [-87, 88] are redone as e^(x/2)^2 (x/2 is exact, and the
//                        square rounds once to the right denormal or to +inf), on the rare rows
//                        that have one
//   exp2_nonpositive(v)  2^x for x <= 0 (decode softmax in base 2): exactly 1 at 0, 0 at -inf, NaN
//                        at NaN. Scalar: std::exp2; vector: xsimd::exp2; AVX-512: x86::exp2_16 with
//                        the minimax polynomial below and VSCALEFPS; Helium: mve::exp2_4, the same
//   exp2_approx(x), exp_approx(x), exp2_clamped(x)   2^x and e^x on one float by that polynomial:
//                        the scalar decode attention (Cortex-M, exp2_clamped), about 16 instructions
//                        and no call; exp2_approx and exp_approx take any float (+inf above the range)
// The polynomial: 2^x = 2^n p(f), x = n + f, n = round(x), |f| <= 1/2, p(f) = 1 + f (c1 + c2 f + ...
// + c5 f^4), a minimax fit of 2^f on [-1/2, 1/2] (relative error 9.2e-8 with these float
// coefficients, fitted for this file by Lawson's iteration in double). With the roundings of its
// Horner steps, exp2_approx is within 2.04 ulp of 2^x for normal results, within 1.5 x 2^-149 for
// denormal ones (tests/kernels/test_decode_attention.cpp checks 3.4 million arguments against double,
// every float exponent, and allows 2.5 ulp / 2 x 2^-149). exp_approx(x) = exp2_approx(x log2 e)
// adds the rounding of that product (up to |x| ulp), which is why the decode attention scores in
// base 2 and calls exp2 directly.
// Domain of exp2_clamped: x in [-151, 27] (softmax arguments are <= 0); exp2_approx extends it to
// every float: above 27 it scales 2^(x - 101) by 2^101, at 128 and above (and +inf) it gives +inf,
// never the negative numbers an exponent field past 254 would make. -inf gives exactly 0 (masked
// keys), NaN gives NaN, results below FLT_MIN are correctly rounded denormals (up to p's error),
// 2^0 is exactly 1. Newlib's expf takes ~35 instructions and a call on Cortex-M4F/M7.
#pragma once

#include "target.hpp"
#include "x86.hpp"
#include "arm_vfp.hpp"
#include "mve.hpp"
#include "riscv.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ctattn::simd {

// p(f)'s coefficients (c0 = 1), and the argument below which 2^x rounds to 0: 2^-151 is below
// half the smallest denormal.
struct exp2_minimax {
    static constexpr float c1 = 0x1.62e42ap-1f;
    static constexpr float c2 = 0x1.ebf9bcp-3f;
    static constexpr float c3 = 0x1.c6b754p-5f;
    static constexpr float c4 = 0x1.3cea92p-7f;
    static constexpr float c5 = 0x1.5bba22p-10f;
    static constexpr float lowest = -151.0f;
};
inline constexpr float exp2_lowest = exp2_minimax::lowest;
inline constexpr float log2_e = 1.44269504088896341f;

namespace detail {
// p(f)'s coefficients times 2^-100 (exact: powers of two), so that p(f) * 2^(n + 100) is one
// rounding of 2^n p(f) even when the result is denormal (n down to -151), while 2^(n + 100)
// itself stays a normal float.
inline constexpr float exp2_c0 = 0x1p-100f;
inline constexpr float exp2_c1 = exp2_minimax::c1 * 0x1p-100f;
inline constexpr float exp2_c2 = exp2_minimax::c2 * 0x1p-100f;
inline constexpr float exp2_c3 = exp2_minimax::c3 * 0x1p-100f;
inline constexpr float exp2_c4 = exp2_minimax::c4 * 0x1p-100f;
inline constexpr float exp2_c5 = exp2_minimax::c5 * 0x1p-100f;

inline float fused(float a, float b, float c) noexcept {
#if defined(CTATTN_HAS_SCALAR_FMA)
    return __builtin_fmaf(a, b, c);
#else
    return a * b + c;
#endif
}
}  // namespace detail

// ---- one float: the polynomial --------------------------------------------------------------

// 2^x for x in [-151, 27] (no clamp: NaN gives NaN, below -151 the result is wrong). For
// callers that clamp on their own (clamp_exp2_argument) and look for NaN on their own.
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

// max(x, exp2_lowest) where NaN need not survive (the caller checks for NaN separately): one
// VMAXNM on FPv5 (Cortex-M7, M55), one fmax.s on RISC-V with F, a compare elsewhere.
[[gnu::always_inline]] inline float clamp_exp2_argument(float x) noexcept {
    if constexpr (target::vfp_vmaxnm)
        return arm_vfp::max_nm(x, exp2_lowest);
    else if constexpr (target::riscv_fmax)
        return riscv::max_num(x, exp2_lowest);
    else
        return x > exp2_lowest ? x : exp2_lowest;
}

// 2^x for every float x (see above).
[[gnu::always_inline]] inline float exp2_approx(float x) noexcept {
    // Above 27 the exponent field n + 227 would pass 254 (and wrap into the sign bit past 255):
    // x - 101 is exact there (both are multiples of x's ulp, and |x - 101| < 101), 2^(x - 101) is a
    // normal float and the power of two 2^101 scales it without a second rounding.
    if (x > 27.0f) [[unlikely]]
        return x < 128.0f ? exp2_clamped(x - 101.0f) * 0x1p101f : std::numeric_limits<float>::infinity();
    // The clamp keeps n (and the exponent built from it) in range; NaN fails the comparison and stays NaN.
    return exp2_clamped(x < exp2_lowest ? exp2_lowest : x);
}

// e^x = 2^(x log2 e), for every float x (see above; +inf from 88.73 on).
[[gnu::always_inline]] inline float exp_approx(float x) noexcept { return exp2_approx(x * log2_e); }

// ---- one float, the same bits on every core ----------------------------------------------------
// The scalar path's e^x and RoPE's cos/sin are fixed sequences of float operations (fused
// multiply-adds where the target has them, simd/target.hpp), not the C library's expf/sinf/cosf:
// newlib's (Cortex-M) and glibc's differ in the last place at some arguments, and one such ulp (a
// SiLU gate, a rotated key) can move a Q8 or an int8 KV code and, decoding on, a greedy id. So a
// core with an FMA computes the host's scalar build's numbers bit for bit.

// e^x for one float: x86::exp_16's and mve::exp_4's Cephes polynomial (<= 2 ulp for normal
// results): the argument clamped to [-104, 89] (e^-104 and e^89 are already 0 and +inf in float),
// n = round(x log2 e) (ties to even, by the 1.5 x 2^23 trick), r = x - n ln 2 in two steps, and
// 2^n applied in two exact halves so that a denormal result is rounded once. NaN gives NaN.
[[gnu::always_inline]] inline float exp_polynomial(float x) noexcept {
    x = x > 89.0f ? 89.0f : x;  // NaN fails both tests and stays NaN
    x = x < -104.0f ? -104.0f : x;
    // t = x log2 e + 1.5 x 2^23, one rounding (fused, written out: left to the compiler, whether it
    // fuses depends on the target), holds n = round(x log2 e) in its low bits (|n| <= 151).
    constexpr float round_magic = 12582912.0f;
    const float t = detail::fused(x, log2_e, round_magic);
    const float n = t - round_magic;
    float r = detail::fused(n, -0.693359375f, x);
    r = detail::fused(n, 2.12194440e-4f, r);
    float p = detail::fused(1.9875691500e-4f, r, 1.3981999507e-3f);
    p = detail::fused(p, r, 8.3334519073e-3f);
    p = detail::fused(p, r, 4.1665795894e-2f);
    p = detail::fused(p, r, 1.6666665459e-1f);
    p = detail::fused(p, r, 5.0000001201e-1f);
    const float e_r = detail::fused(p, r * r, r) + 1.0f;
    // 2^n as 2^h 2^(n - h), h = floor(n / 2) in [-76, 64]: e_r 2^h is a normal float (exact), and
    // the second product rounds once, to a denormal where e^x is one, or overflows to +inf. n from
    // t's bits: integer arithmetic, defined for a NaN too (the result is NaN whatever the scale).
    const std::int32_t n_int = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(t) - 0x4b400000u);
    const std::int32_t half = n_int >> 1;
    const float first = std::bit_cast<float>(static_cast<std::uint32_t>(half + 127) << 23);
    const float second = std::bit_cast<float>(static_cast<std::uint32_t>(n_int - half + 127) << 23);
    return (e_r * first) * second;
}

// cos and sin of one float angle (RoPE's rotation), by Cephes' sinf/cosf polynomials on [-pi/4,
// pi/4] after x = k pi/2 + r: k = round(x 2/pi), r by three fused steps with a three-part pi/2
// (the first two parts' products exact for |k| < 2^12). Within 2^-23 of the double cos/sin for |x|
// up to 6400 radians (tests/kernels/test_exp_edges.cpp), not a correctly rounded sinf: the point is
// the same bits on every core. Not finite: NaN for both.
[[gnu::always_inline]] inline void cos_sin_polynomial(float x, float& c, float& s) noexcept {
    if (!(x - x == 0.0f)) {
        c = s = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    constexpr float round_magic = 12582912.0f, two_over_pi = 0.636619772367581343f;
    const float t = detail::fused(x, two_over_pi, round_magic);  // k = round(x 2/pi) in its low bits
    const float k = t - round_magic;
    // pi/2 = 1.5703125 + 4.837512969970703125e-4 + 7.54978995489188216e-8 (Cephes' DP1..DP3, halved).
    float r = detail::fused(k, -1.5703125f, x);
    r = detail::fused(k, -4.837512969970703125e-4f, r);
    r = detail::fused(k, -7.54978995489188216e-8f, r);
    const float z = r * r;
    float ps = detail::fused(-1.9515295891e-4f, z, 8.3321608736e-3f);
    ps = detail::fused(ps, z, -1.6666654611e-1f);
    const float sin_r = detail::fused(ps * z, r, r);
    float pc = detail::fused(2.443315711809948e-5f, z, -1.388731625493765e-3f);
    pc = detail::fused(pc, z, 4.166664568298827e-2f);
    const float cos_r = detail::fused(pc * z, z, detail::fused(-0.5f, z, 1.0f));
    // The quadrant, k mod 4: the low bits of t (0x4b400000 + k, |k| < 2^22).
    switch (std::bit_cast<std::uint32_t>(t) & 3u) {
        case 0: c = cos_r, s = sin_r; break;
        case 1: c = -sin_r, s = cos_r; break;
        case 2: c = -cos_r, s = -sin_r; break;
        default: c = sin_r, s = -cos_r; break;
    }
}

// ---- a vector (or one float on the scalar arch): e^x, and 2^x for x <= 0 --------------------

[[gnu::always_inline]] inline float exp(float x) noexcept { return exp_polynomial(x); }
[[gnu::always_inline]] inline float exp2_nonpositive(float x) noexcept { return std::exp2(x); }

#if defined(CTATTN_HAS_XSIMD)
CTATTN_SILENCE_INTRINSIC_WARNINGS
template <class Arch>
inline xsimd::batch<float, Arch> exp(xsimd::batch<float, Arch> x) noexcept {
#if defined(CTATTN_HAS_AVX512F)
    if constexpr (xsimd::batch<float, Arch>::size == 16) return xsimd::batch<float, Arch>(x86::exp_16(x));
#endif
    using batch = xsimd::batch<float, Arch>;
    const batch e = xsimd::exp(x);
    // xsimd's range ends early at both sides (see above); NaN lanes compare false and keep xsimd's NaN.
    const auto edge = (x > batch(88.0f)) | (x < batch(-87.0f));
    if (!xsimd::any(edge)) [[likely]]
        return e;
    const batch half = xsimd::exp(x * batch(0.5f));
    return xsimd::select(edge, half * half, e);
}

template <class Arch>
inline xsimd::batch<float, Arch> exp2_nonpositive(xsimd::batch<float, Arch> x) noexcept {
#if defined(CTATTN_HAS_AVX512F)
    if constexpr (xsimd::batch<float, Arch>::size == 16)
        return xsimd::batch<float, Arch>(x86::exp2_16<exp2_minimax>(x));
#endif
    return xsimd::exp2(x);
}
CTATTN_RESTORE_WARNINGS
#endif

#if defined(CTATTN_HAS_MVE_FLOAT)
// Helium (simd/mve.hpp): Cephes' e^x as exp_16, and 2^x by the minimax polynomial above.
[[gnu::always_inline]] inline float32x4_t exp(float32x4_t x) noexcept { return mve::exp_4(x); }
[[gnu::always_inline]] inline float32x4_t exp2_nonpositive(float32x4_t x) noexcept {
    return mve::exp2_4<exp2_minimax>(x);
}
#endif

}  // namespace ctattn::simd
