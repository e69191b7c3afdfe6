// SPDX-License-Identifier: Apache-2.0
// Helium (M-profile Vector Extension, MVE) with floating point: Cortex-M55, M85. ops<mve_arch> is
// the vector vocabulary on 4-float q registers (q0..q7), and the bodies the generic kernels leave to
// the ISA: e^x and 2^x (x <= 0) by the polynomials of simd/math.hpp, keys across lanes by gathers
// (decode attention, head_dim 8) and the one-token projection in strips of 4-float columns
// (vfma by a scalar: one activation load serves the strip's accumulators).
// Declared on every target; defined where simd/target.hpp sets CTATTN_HAS_MVE_FLOAT.
#pragma once

#include "target.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(CTATTN_HAS_MVE_FLOAT)
// ctattn calls the __arm_-prefixed names. (GCC 12's arm_mve.h does not compile with
// __ARM_MVE_PRESERVE_USER_NAMESPACE: some of its bodies call the short names that macro removes.)
#include <arm_mve.h>
#endif

namespace ctattn::simd {

/// The arch tag of Helium with floating point (4 floats per vector); simd::default_arch where the
/// target has it (simd/target.hpp), unless CTATTN_SIMD_SCALAR asks for the scalar path.
struct mve_arch {
    /// The name benchmarks and test reports print.
    static constexpr const char* name() noexcept { return "mve"; }
};

template <class Arch>
struct ops;

namespace mve {
// Keys j0 .. j0 + count - 1 (count <= 4; rows of HeadDim floats at stride KvStride, from k)
// transposed by gathers: kt[d] lane t = k_t[d], lanes t >= count 0 (their rows are not read).
template <std::size_t HeadDim, std::size_t KvStride, class Vec>
void gather_keys(const float* k, std::size_t count, Vec* kt) noexcept;
// y[0 .. Cols) = bias (or 0) + sum over k < Din, in order, of x[k] * w[k * WStride + ..] (one row).
template <std::size_t Din, std::size_t Cols, std::size_t WStride>
void project_row(const float* x, const float* w, const float* bias, float* y) noexcept;
}  // namespace mve

#if defined(CTATTN_HAS_MVE_FLOAT)
namespace mve {

using vec = float32x4_t;

[[gnu::always_inline]] inline vec splat(float x) noexcept { return __arm_vdupq_n_f32(x); }

// x where `where` is false, `fill` where it is true. The clamps below test `x > bound` and
// `bound > x`: GT is false for an unordered (NaN) lane, which keeps its NaN, where Arm's LT and LE
// conditions are true for it (and VMAXNM/VMINNM would drop it).
[[gnu::always_inline]] inline vec replace_where(mve_pred16_t where, vec x, float fill) noexcept {
    return __arm_vpselq_f32(splat(fill), x, where);
}
[[gnu::always_inline]] inline vec clamp_below(vec x, float lowest) noexcept {
    return replace_where(__arm_vcmpgtq_f32(splat(lowest), x), x, lowest);
}

// 2^n for integer-valued n in [-151, 128], applied to m as (m * 2^(n/2)) * 2^(n - n/2): both
// factors are normal floats, the first product is exact for m in [1/2, 2], so the result is one
// rounding of m 2^n, denormals and the overflow to +inf included (the scalar body's trick with
// 2^-100 would need a larger exponent field at the top).
[[gnu::always_inline]] inline vec scale_by_power_of_two(vec m, vec n) noexcept {
    const int32x4_t ni = __arm_vcvtq_s32_f32(n);
    const int32x4_t half = __arm_vshrq_n_s32(ni, 1);
    const int32x4_t rest = __arm_vsubq_s32(ni, half);
    const vec s1 = __arm_vreinterpretq_f32_s32(__arm_vshlq_n_s32(__arm_vaddq_n_s32(half, 127), 23));
    const vec s2 = __arm_vreinterpretq_f32_s32(__arm_vshlq_n_s32(__arm_vaddq_n_s32(rest, 127), 23));
    return __arm_vmulq_f32(__arm_vmulq_f32(m, s1), s2);
}

// e^x for 4 floats: simd/x86.hpp's exp_16 (Cephes' polynomial after a Cody-Waite reduction,
// <= 2 ulp for normal results) with the scaling above. x is clamped to [-104, 89] (e^x is 0 and +inf
// beyond), NaN kept.
inline vec exp_4(vec x) noexcept {
    x = replace_where(__arm_vcmpgtq_n_f32(x, 89.0f), x, 89.0f);
    x = clamp_below(x, -104.0f);
    const vec n = __arm_vrndnq_f32(__arm_vmulq_n_f32(x, 1.44269504088896341f));
    vec r = __arm_vfmaq_n_f32(x, n, -0.693359375f);
    r = __arm_vfmaq_n_f32(r, n, 2.12194440e-4f);
    vec p = __arm_vfmaq_n_f32(splat(1.3981999507e-3f), r, 1.9875691500e-4f);
    p = __arm_vfmaq_f32(splat(8.3334519073e-3f), p, r);
    p = __arm_vfmaq_f32(splat(4.1665795894e-2f), p, r);
    p = __arm_vfmaq_f32(splat(1.6666665459e-1f), p, r);
    p = __arm_vfmaq_f32(splat(5.0000001201e-1f), p, r);
    const vec e_r = __arm_vaddq_n_f32(__arm_vfmaq_f32(r, p, __arm_vmulq_f32(r, r)), 1.0f);
    return scale_by_power_of_two(e_r, n);
}

// 2^x for 4 floats x <= 0: x = n + f (n = round(x), |f| <= 1/2), 2^f by Poly's degree-5
// polynomial (simd/math.hpp: exactly 1 at 0), 2^n by the scaling above; x below Poly::lowest
// (-inf too) gives 0, NaN gives NaN.
template <class Poly>
inline vec exp2_4(vec x) noexcept {
    const vec clamped = clamp_below(x, Poly::lowest);
    const vec n = __arm_vrndnq_f32(clamped);
    const vec f = __arm_vsubq_f32(clamped, n);
    vec p = __arm_vfmaq_n_f32(splat(Poly::c4), f, Poly::c5);
    p = __arm_vfmaq_f32(splat(Poly::c3), p, f);
    p = __arm_vfmaq_f32(splat(Poly::c2), p, f);
    p = __arm_vfmaq_f32(splat(Poly::c1), p, f);
    p = __arm_vfmaq_f32(splat(1.0f), p, f);
    return scale_by_power_of_two(p, n);
}

// A function of one float on each lane (erf, tanh: GELU's rare forms, not worth a polynomial here).
inline vec map_lanes(vec x, float (*f)(float)) noexcept {
    alignas(16) float lanes[4];
    __arm_vst1q_f32(lanes, x);
    for (float& lane : lanes) lane = f(lane);
    return __arm_vld1q_f32(lanes);
}

template <std::size_t HeadDim, std::size_t KvStride, class Vec>
inline void gather_keys(const float* k, std::size_t count, Vec* kt) noexcept {
    const uint32x4_t offsets = {0, KvStride, 2 * KvStride, 3 * KvStride};
    if (count >= 4) {
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
            kt[d] = __arm_vldrwq_gather_shifted_offset_f32(k + d, offsets);
    } else {
        const mve_pred16_t present = __arm_vctp32q(std::uint32_t(count));
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
            kt[d] = __arm_vldrwq_gather_shifted_offset_z_f32(k + d, offsets, present);
    }
}

// One strip of Vecs vectors of columns (Vecs accumulators and one weight vector in q registers):
// per step of k one scalar x[k] in a core register feeds Vecs VFMAs by scalar, whose weights are
// one VLDRW each. The last vector's lanes past `last_lanes` are neither loaded nor stored.
template <std::size_t Vecs, std::size_t Din, std::size_t WStride>
[[gnu::always_inline]] inline void project_strip(const float* x, const float* w, const float* bias, float* y,
                                                 std::uint32_t last_lanes) noexcept {
    const mve_pred16_t last = __arm_vctp32q(last_lanes);
    vec acc[Vecs];
    CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n) {
        if (n + 1 < Vecs)
            acc[n] = bias ? __arm_vld1q_f32(bias + 4 * n) : splat(0.0f);
        else
            acc[n] = bias ? __arm_vldrwq_z_f32(bias + 4 * n, last) : splat(0.0f);
    }
    _Pragma("GCC unroll 2") for (std::size_t k = 0; k < Din; ++k) {
        const float xk = x[k];
        const float* row = w + k * WStride;
        CTATTN_UNROLL for (std::size_t n = 0; n + 1 < Vecs; ++n)
            acc[n] = __arm_vfmaq_n_f32(acc[n], __arm_vld1q_f32(row + 4 * n), xk);
        acc[Vecs - 1] = __arm_vfmaq_n_f32(acc[Vecs - 1], __arm_vldrwq_z_f32(row + 4 * (Vecs - 1), last), xk);
    }
    CTATTN_UNROLL for (std::size_t n = 0; n + 1 < Vecs; ++n) __arm_vst1q_f32(y + 4 * n, acc[n]);
    __arm_vstrwq_p_f32(y + 4 * (Vecs - 1), acc[Vecs - 1], last);
}

template <std::size_t Din, std::size_t Cols, std::size_t WStride>
inline void project_row(const float* x, const float* w, const float* bias, float* y) noexcept {
    // Strips of 6 vectors (6 accumulators, a weight vector and one spare of the 8 q registers),
    // then one narrower strip for the rest, its last vector tail-predicated.
    constexpr std::size_t strip = 6 * 4;
    constexpr std::size_t strips_end = Cols / strip * strip;
    constexpr std::size_t rest = Cols - strips_end;
    for (std::size_t c = 0; c < strips_end; c += strip)
        project_strip<6, Din, WStride>(x, w + c, bias ? bias + c : nullptr, y + c, 4);
    if constexpr (rest > 0)
        project_strip<(rest + 3) / 4, Din, WStride>(x, w + strips_end, bias ? bias + strips_end : nullptr,
                                                    y + strips_end, rest % 4 == 0 ? 4 : rest % 4);
}

}  // namespace mve

template <>
struct ops<mve_arch> {
    using vec = float32x4_t;
    static constexpr std::size_t width = 4;
    static constexpr std::size_t registers = 8;  // q0..q7

    static vec zero() noexcept { return __arm_vdupq_n_f32(0.0f); }
    static vec broadcast(float x) noexcept { return __arm_vdupq_n_f32(x); }
    static vec load(const float* p) noexcept { return __arm_vld1q_f32(p); }
    static void store(float* p, vec v) noexcept { __arm_vst1q_f32(p, v); }
    static vec fma(vec a, vec b, vec c) noexcept { return __arm_vfmaq_f32(c, a, b); }
    static vec mul(vec a, vec b) noexcept { return __arm_vmulq_f32(a, b); }
    static vec sub(vec a, vec b) noexcept { return __arm_vsubq_f32(a, b); }
    // VMAXNM/VMINNM: a NaN lane loses to a number (MVE has no other float max); the kernels find
    // NaN through their sums, as on the other arches where a NaN lane may or may not survive.
    static vec max(vec a, vec b) noexcept { return __arm_vmaxnmq_f32(a, b); }
    static vec min(vec a, vec b) noexcept { return __arm_vminnmq_f32(a, b); }
    static vec exp(vec x) noexcept { return mve::exp_4(x); }
    // Lanes 0..count-1 of v, `fill` in the others: the tail predicate VCTP makes the lane mask.
    static vec select_first(std::size_t count, vec v, float fill) noexcept {
        return __arm_vpselq_f32(v, __arm_vdupq_n_f32(fill), __arm_vctp32q(std::uint32_t(count)));
    }
    // MVE has no float add across a vector (VADDV is integer only): pairs, then the two sums.
    static float reduce_add(vec v) noexcept {
        return (__arm_vgetq_lane_f32(v, 0) + __arm_vgetq_lane_f32(v, 1)) +
               (__arm_vgetq_lane_f32(v, 2) + __arm_vgetq_lane_f32(v, 3));
    }
    static float reduce_max(vec v) noexcept { return __arm_vmaxnmvq_f32(-__builtin_inff(), v); }
    static bool any_equal(vec v, float x) noexcept { return __arm_vcmpeqq_n_f32(v, x) != 0; }
    // Lane i = sum of rows[i]'s lanes: the four rows through memory, read back de-interleaved by
    // VLD4 (vector j lane i = rows[i][j]), then three adds.
    static vec reduce_add_each(const vec* rows) noexcept {
        alignas(16) float buffer[16];
        for (std::size_t i = 0; i < 4; ++i) __arm_vst1q_f32(buffer + 4 * i, rows[i]);
        const float32x4x4_t columns = __arm_vld4q_f32(buffer);
        return __arm_vaddq_f32(__arm_vaddq_f32(columns.val[0], columns.val[1]),
                               __arm_vaddq_f32(columns.val[2], columns.val[3]));
    }
};
#endif  // CTATTN_HAS_MVE_FLOAT

}  // namespace ctattn::simd
