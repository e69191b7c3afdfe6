// SPDX-License-Identifier: Apache-2.0
// Helium (MVE, Cortex-M55/M85) bodies of simd/q8.hpp, y_r = sum_g (sw_rg * sx_g) * sum_{i in g} w_ri q_i:
//   rows dot: each group's int32 sum by VMLADAVA over 16 codes (the last vector tail-predicated),
//             up to 4 rows at once sharing every activation load; the rows' sums then sit in the 4
//             float lanes, so one gather, VCVT, VMUL and VFMA apply the group's scales to all rows;
//   quantize: max |x| by VMAXNMAV, x / s as x * (1/s) corrected by one Markstein step (two fused
//             multiply-adds give the correctly rounded quotient), then the scalar body's +-0.5 and
//             truncation, 4 values per vector.
// Declared on every target, defined where simd/target.hpp sets CTATTN_HAS_MVE_FLOAT (Helium with
// float lanes); integer-only Helium (CTATTN_HAS_MVE_INT alone) gets the row dot only, one row at a
// time with the group's float step in the FPU. All give the scalar bodies' results bit for bit (the
// int32 sums are exact; the float steps per row are the scalar body's, fused as GCC contracts them:
// s + (ws * xs) * acc).
#pragma once

#include "target.hpp"

#include <cstddef>
#include <cstdint>
#include <utility>

#if defined(CTATTN_HAS_MVE_INT)
// ctattn calls the __arm_-prefixed names (see simd/mve.hpp).
#include <arm_mve.h>
#endif

namespace ctattn::simd::q8_mve {

// simd/q8.hpp's rows dot (same arguments, same preconditions), any R >= 1.
template <std::size_t G, std::size_t R>
void rows_dot(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws, std::size_t ws_stride,
              const std::int8_t* xq, const float* xs, std::size_t groups, float* out) noexcept;

// simd/q8.hpp's row dot: with float lanes rows_dot with one row, so every output is the same
// whichever is called; integer-only Helium: VMLADAVA per group and the FPU for the float step.
template <std::size_t G>
float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
              std::size_t groups) noexcept;

// simd/q8.hpp's quantize, 4 values per vector, the scalar body's codes and scales bit for bit.
template <std::size_t G>
void quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept;

#if defined(CTATTN_HAS_MVE_FLOAT)
namespace detail {
// The 16 codes at p as one memory operand: the assembly below says exactly what it reads.
using chunk16 = std::int8_t[16];
[[gnu::always_inline]] inline const chunk16& chunk_at(const std::int8_t* p) noexcept {
    return *reinterpret_cast<const chunk16*>(p);
}

// One group's int32 sums of four rows (G a multiple of 16) into lanes 0..3, the pointers advanced
// past the group. Written in assembly because GCC 12 folds the four row pointers into one base
// with offsets beyond the loads' 7-bit immediates and, inlined into the layers, spills the sums
// and vectors: 45-55 instructions per group of 32 and 4 rows with the scale step, 27 now (18 of
// them here). VMLADAV needs even core registers: GCC's constraint Te. The sums go into the lanes
// by VDUP and three VMOVs, not the two dual-lane VMOVs: QEMU and LLVM's documentation disagree on
// which lane those give each register.
template <std::size_t G>
[[gnu::always_inline]] inline int32x4_t four_row_sums(const std::int8_t*& x, const std::int8_t*& p0,
                                                      const std::int8_t*& p1, const std::int8_t*& p2,
                                                      const std::int8_t*& p3) noexcept {
    static_assert(G % 16 == 0 && G > 0, "ctattn: the assembly group step takes whole 16-code vectors");
    std::int32_t a0, a1, a2, a3;
    int8x16_t xv, wv;
    asm("vldrb.u8 %q[x], [%[px]], #16\n\t"
        "vldrb.u8 %q[w], [%[p0]], #16\n\t"
        "vmladav.s8 %[a0], %q[w], %q[x]\n\t"
        "vldrb.u8 %q[w], [%[p1]], #16\n\t"
        "vmladav.s8 %[a1], %q[w], %q[x]\n\t"
        "vldrb.u8 %q[w], [%[p2]], #16\n\t"
        "vmladav.s8 %[a2], %q[w], %q[x]\n\t"
        "vldrb.u8 %q[w], [%[p3]], #16\n\t"
        "vmladav.s8 %[a3], %q[w], %q[x]"
        : [a0] "=&Te"(a0), [a1] "=&Te"(a1), [a2] "=&Te"(a2), [a3] "=&Te"(a3), [x] "=&w"(xv), [w] "=&w"(wv),
          [px] "+r"(x), [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [p3] "+r"(p3)
        : "m"(chunk_at(x)), "m"(chunk_at(p0)), "m"(chunk_at(p1)), "m"(chunk_at(p2)), "m"(chunk_at(p3)));
    for (std::size_t k = 1; k < G / 16; ++k)
        asm("vldrb.u8 %q[x], [%[px]], #16\n\t"
            "vldrb.u8 %q[w], [%[p0]], #16\n\t"
            "vmladava.s8 %[a0], %q[w], %q[x]\n\t"
            "vldrb.u8 %q[w], [%[p1]], #16\n\t"
            "vmladava.s8 %[a1], %q[w], %q[x]\n\t"
            "vldrb.u8 %q[w], [%[p2]], #16\n\t"
            "vmladava.s8 %[a2], %q[w], %q[x]\n\t"
            "vldrb.u8 %q[w], [%[p3]], #16\n\t"
            "vmladava.s8 %[a3], %q[w], %q[x]"
            : [a0] "+&Te"(a0), [a1] "+&Te"(a1), [a2] "+&Te"(a2), [a3] "+&Te"(a3), [x] "=&w"(xv), [w] "=&w"(wv),
              [px] "+r"(x), [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [p3] "+r"(p3)
            : "m"(chunk_at(x)), "m"(chunk_at(p0)), "m"(chunk_at(p1)), "m"(chunk_at(p2)), "m"(chunk_at(p3)));
    int32x4_t sums = __arm_vdupq_n_s32(a0);
    sums = __arm_vsetq_lane_s32(a1, sums, 1);
    sums = __arm_vsetq_lane_s32(a2, sums, 2);
    return __arm_vsetq_lane_s32(a3, sums, 3);
}

// Rows r... (at most 4) of the rows dot. Each row walks its own code pointer (post-incremented
// loads; the rows lie further apart than a load's immediate offset reaches); each 16-code
// activation vector is loaded once for all rows. The rows are a pack, not a loop, so their sums
// stay in core registers at -Os too (GCC unrolls no loop there).
template <std::size_t G, std::size_t... r>
[[gnu::always_inline]] inline void rows_dot_lanes(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws,
                                                  std::size_t ws_stride, const std::int8_t* xq, const float* xs,
                                                  std::size_t groups, float* out, std::index_sequence<r...>) noexcept {
    constexpr std::size_t R = sizeof...(r), whole = G / 16, rest = G % 16;
    const std::int8_t* row[R] = {(w + r * row_stride_bytes)...};
    const mve_pred16_t rows = __arm_vctp32q(std::uint32_t(R));
    // Lane r of the gather reads row r's scale of the current group: ws + g + r * ws_stride.
    const uint32x4_t scale_offsets = __arm_vmulq_n_u32(__arm_vidupq_n_u32(0u, 1), std::uint32_t(ws_stride));
    // The same as addresses, one float before group 0's (the 4-row path's load pre-increments them).
    uint32x4_t scale_addresses = __arm_vaddq_n_u32(__arm_vshlq_n_u32(scale_offsets, 2),
                                                   std::uint32_t(reinterpret_cast<std::uintptr_t>(ws)) - 4u);
    float32x4_t sums = __arm_vdupq_n_f32(0.0f);
    // Unrolled: the projections' group counts are constants once inlined (2 at width 64), and the
    // loop's own compare, branch and pointer steps were a tenth of a group's instructions.
    _Pragma("GCC unroll 8") for (std::size_t g = 0; g < groups; ++g) {
        if constexpr (R == 4 && rest == 0) {
            const int32x4_t acc4 = four_row_sums<G>(xq, row[0], row[1], row[2], row[3]);
            // Lane r: row r's scale of group g, its address stepped 4 bytes by the load itself
            // (VLDRW gather with writeback; GCC 12's intrinsic for it loads twice).
            float32x4_t row_scales;
            asm("vldrw.u32 %q[v], [%q[a], #4]!" : [v] "=&w"(row_scales), [a] "+w"(scale_addresses) : : "memory");
            sums = __arm_vfmaq_f32(sums, __arm_vmulq_n_f32(row_scales, xs[g]), __arm_vcvtq_f32_s32(acc4));
            continue;
        }
        std::int32_t acc[R];
        if constexpr (whole > 0) {
            const int8x16_t x = __arm_vld1q_s8(xq);
            xq += 16;
            ((acc[r] = __arm_vmladavq_s8(__arm_vld1q_s8(row[r]), x), row[r] += 16), ...);
        } else {
            ((acc[r] = 0), ...);
        }
        CTATTN_UNROLL for (std::size_t k = 1; k < whole; ++k) {
            const int8x16_t x = __arm_vld1q_s8(xq);
            xq += 16;
            ((acc[r] = __arm_vmladavaq_s8(acc[r], __arm_vld1q_s8(row[r]), x), row[r] += 16), ...);
        }
        if constexpr (rest > 0) {
            const mve_pred16_t lanes = __arm_vctp8q(std::uint32_t(rest));
            const int8x16_t x = __arm_vldrbq_z_s8(xq, lanes);
            xq += rest;
            ((acc[r] = __arm_vmladavaq_p_s8(acc[r], __arm_vldrbq_z_s8(row[r], lanes), x, lanes), row[r] += rest), ...);
        }
        // The rows' sums into lanes 0 .. R-1 (the lanes past R are never stored).
        int32x4_t acc4 = __arm_vdupq_n_s32(acc[0]);
        ((acc4 = r > 0 ? __arm_vsetq_lane_s32(acc[r], acc4, int(r)) : acc4), ...);
        // Lane r: sum_r + (ws_rg * xs_g) * acc_r, the scalar body's fused multiply-add.
        float32x4_t row_scales;
        if constexpr (R == 4)
            row_scales = __arm_vldrwq_gather_shifted_offset_f32(ws + g, scale_offsets);
        else
            row_scales = __arm_vldrwq_gather_shifted_offset_z_f32(ws + g, scale_offsets, rows);
        sums = __arm_vfmaq_f32(sums, __arm_vmulq_n_f32(row_scales, xs[g]), __arm_vcvtq_f32_s32(acc4));
    }
    if constexpr (R == 4)
        __arm_vst1q_f32(out, sums);
    else
        __arm_vstrwq_p_f32(out, sums, rows);
}
}  // namespace detail

template <std::size_t G, std::size_t R>
inline void rows_dot(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws, std::size_t ws_stride,
                     const std::int8_t* xq, const float* xs, std::size_t groups, float* out) noexcept {
    static_assert(R >= 1, "ctattn: q8_rows_dot computes at least one row");
    if constexpr (R > 4) {
        // Four float lanes: more rows are blocks of four (the same result per row either way).
        rows_dot<G, 4>(w, row_stride_bytes, ws, ws_stride, xq, xs, groups, out);
        rows_dot<G, R - 4>(w + 4 * row_stride_bytes, row_stride_bytes, ws + 4 * ws_stride, ws_stride, xq, xs,
                           groups, out + 4);
    } else {
        detail::rows_dot_lanes<G>(w, row_stride_bytes, ws, ws_stride, xq, xs, groups, out, std::make_index_sequence<R>{});
    }
}

template <std::size_t G>
inline float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                     std::size_t groups) noexcept {
    float out[1];
    rows_dot<G, 1>(w, G * groups, ws, groups, xq, xs, groups, out);
    return out[0];
}
#elif defined(CTATTN_HAS_MVE_INT)
// Integer-only Helium (no float lanes): each group's sum by VMLADAVA over 16 codes at a time, the
// last vector tail-predicated, then the scalar body's float step per group.
template <std::size_t G>
inline float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                     std::size_t groups) noexcept {
    constexpr std::size_t whole = G / 16, rest = G % 16;
    float sum = 0.0f;
    for (std::size_t g = 0; g < groups; ++g) {
        const std::int8_t* wg = w + g * G;
        const std::int8_t* xg = xq + g * G;
        std::int32_t acc = 0;
        for (std::size_t i = 0; i < whole; ++i)
            acc = __arm_vmladavaq_s8(acc, __arm_vld1q_s8(wg + 16 * i), __arm_vld1q_s8(xg + 16 * i));
        if constexpr (rest > 0) {
            const mve_pred16_t lanes = __arm_vctp8q(std::uint32_t(rest));
            acc = __arm_vmladavaq_p_s8(acc, __arm_vldrbq_z_s8(wg + 16 * whole, lanes),
                                       __arm_vldrbq_z_s8(xg + 16 * whole, lanes), lanes);
        }
        sum += (ws[g] * xs[g]) * static_cast<float>(acc);
    }
    return sum;
}
#endif  // CTATTN_HAS_MVE_FLOAT / CTATTN_HAS_MVE_INT

#if defined(CTATTN_HAS_MVE_FLOAT)
template <std::size_t G>
inline void quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept {
    constexpr std::size_t whole = G / 4, rest = G % 4;
    // Below this scale the reciprocal 1/s or the Markstein residual could leave the normal range:
    // such groups (max |x| < 127 * 2^-40) take the scalar body's per-value division.
    constexpr float smallest_fast_scale = 0x1p-40f;
    for (std::size_t g = 0; g < groups; ++g) {
        const float* xg = x + g * G;
        std::int8_t* qg = xq + g * G;
        float amax = 0.0f;
        CTATTN_UNROLL for (std::size_t i = 0; i < whole; ++i) amax = __arm_vmaxnmavq_f32(amax, __arm_vld1q_f32(xg + 4 * i));
        if constexpr (rest > 0)
            amax = __arm_vmaxnmavq_p_f32(amax, __arm_vldrwq_z_f32(xg + 4 * whole, __arm_vctp32q(rest)),
                                         __arm_vctp32q(rest));
        const float scale = amax / 127.0f;
        xs[g] = scale;
        if (scale == 0.0f) {
            for (std::size_t i = 0; i < G; ++i) qg[i] = 0;
            continue;
        }
        if (scale < smallest_fast_scale) {
            for (std::size_t i = 0; i < G; ++i) {
                const float v = xg[i] / scale;
                int q = static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f));
                q = q > 127 ? 127 : (q < -127 ? -127 : q);
                qg[i] = static_cast<std::int8_t>(q);
            }
            continue;
        }
        // v = RN(x / s): y = x * inv is within an ulp of x / s (faithful), the residual x - y s is
        // exact in one fused operation, and y + residual * inv (inv = RN(1 / s)) is then the
        // correctly rounded quotient (Markstein's theorem; no underflow for s >= 2^-40 where it
        // matters, |x / s| >= 2^-30: smaller quotients give code 0 either way).
        const float inv = 1.0f / scale;
        const float32x4_t scale4 = __arm_vdupq_n_f32(scale);
        const uint32x4_t sign_bit = __arm_vdupq_n_u32(0x80000000u);
        const auto code4 = [&](float32x4_t xv) {
            const float32x4_t y = __arm_vmulq_n_f32(xv, inv);
            const float32x4_t v = __arm_vfmaq_n_f32(y, __arm_vfmsq_f32(xv, y, scale4), inv);
            // v + (v >= 0 ? 0.5 : -0.5) as v + copysign(0.5, v) (bit operations; they differ at
            // v = -0 only, where both truncate to code 0), truncated toward zero (VCVT). The scalar
            // body's clamp never acts on a correctly rounded v: |x| <= max |x| = 127 s (1 + e),
            // |e| <= 2^-24, so |v| <= 127 + 2^-17 and |v + 0.5| < 128 truncates to at most 127.
            const float32x4_t half = __arm_vreinterpretq_f32_u32(
                __arm_vorrq_n_u32(__arm_vandq_u32(__arm_vreinterpretq_u32_f32(v), sign_bit), 0x3f000000u));
            return __arm_vcvtq_s32_f32(__arm_vaddq_f32(v, half));
        };
        CTATTN_UNROLL for (std::size_t i = 0; i < whole; ++i)
            __arm_vstrbq_s32(qg + 4 * i, code4(__arm_vld1q_f32(xg + 4 * i)));
        if constexpr (rest > 0) {
            const mve_pred16_t lanes = __arm_vctp32q(rest);
            __arm_vstrbq_p_s32(qg + 4 * whole, code4(__arm_vldrwq_z_f32(xg + 4 * whole, lanes)), lanes);
        }
    }
}
#endif  // CTATTN_HAS_MVE_FLOAT

}  // namespace ctattn::simd::q8_mve
