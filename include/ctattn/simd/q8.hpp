// SPDX-License-Identifier: Apache-2.0
// 8-bit group arithmetic (Q8: symmetric int8 with one float scale per group of G values), the two
// primitives every int8 kernel is built from:
//   quantize:  s_g = max_{i in g} |x_i| / 127,  q_i = round(x_i / s_g)  in [-127, 127]
//   row dot:   y = sum_g (sw_g * sx_g) * sum_{i in g} w_i * q_i   (int32 inside a group, one float
//              multiply-add per group)
// This file is the one place that decides which body runs; the scalar bodies here run on every
// core (integer multiply-adds, so cores without an FPU pay one float operation per group, not per
// weight). Per-ISA bodies live beside it in simd/q8_<isa>.hpp and are chosen below, at compile time:
//   AVX-512 VNNI > AVX-VNNI > AVX2 (q8_x86.hpp; groups that divide 32 bytes prefer AVX-VNNI);
//   NEON with or without sdot (q8_neon.hpp);
//   Helium (MVE, Cortex-M55/M85), VMLADAVA on 16 codes, 4 rows per activation load (q8_mve.hpp;
//   integer-only Helium: one row at a time);
//   Arm DSP extension, SXTB16 + SMLAD (q8_arm_dsp.hpp); no FPU (target::soft_float), the group scales
//   in integers (q8_soft_float.hpp); otherwise the scalar bodies here.
// Codes: weights may be any int8, -128 included (a file may hold it; every body is exact for it);
// activation codes are in [-127, 127], as q8_quantize makes them (the AVX2 and NEON bodies rely on it).
#pragma once

#include "q8_arm_dsp.hpp"
#include "q8_group_dot.hpp"
#include "q8_mve.hpp"
#include "q8_neon.hpp"
#include "q8_soft_float.hpp"
#include "q8_x86.hpp"
#include "target.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ctattn::simd {

/// Largest group a Q8 dot accepts: 128 * 127 * 65536 < 2^31, so a group's int32 sum cannot overflow.
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
        const std::int32_t acc = q8_group_dot<G>(w + g * G, xq + g * G);
        // Fused where the target has it, written out: whether GCC contracts this multiply-add
        // depends on the target's tuning (x86's avoids FMA chains in loops, Arm's fuses), and the
        // scalar build rounds as the Cortex-M DSP body (q8_arm_dsp.hpp, contracted there) does.
        const float group_scale = ws[g] * xs[g];
        if constexpr (target::scalar_fma)
            sum = __builtin_fmaf(group_scale, static_cast<float>(acc), sum);
        else
            sum += group_scale * static_cast<float>(acc);
    }
    return sum;
}

}  // namespace scalar_q8

/// Groups that fit a 32-byte vector whole (G = 32, 16, ...) run faster on the 32-byte VNNI body than
/// packed two or more to a 64-byte vector (bench/bench_q8.cpp, G 32: 1.9x against 1.1x float's speed
/// on an AVX-512 VNNI core), so where both are compiled those take the 32-byte one.
template <std::size_t G>
inline constexpr bool prefer_256_bit_vnni = target::q8_avx_vnni && 32 % G == 0;

/// Quantizes `groups` groups of G finite floats to Q8 codes and scales (see scalar_q8::quantize).
template <std::size_t G>
inline void q8_quantize(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept {
    // The vector bodies give the scalar body's codes and scales bit for bit (same operations per value).
    if constexpr (target::q8_avx2)
        q8_x86::quantize_avx2<G>(x, groups, xq, xs);
    else if constexpr (target::q8_neon)
        q8_neon::quantize<G>(x, groups, xq, xs);
    else if constexpr (target::mve_float)
        q8_mve::quantize<G>(x, groups, xq, xs);
    else if constexpr (target::soft_float)
        q8_soft_float::quantize<G>(x, groups, xq, xs);  // no FPU: codes in integers
    else
        scalar_q8::quantize<G>(x, groups, xq, xs);
}

/// One output of a Q8 matrix-vector product: a weight row (groups * G codes in [-128, 127], scales
/// ws) against quantized activations (codes xq in [-127, 127], scales xs). See scalar_q8::row_dot for
/// the formula; the int32 sum of each group is exact on every body, the float sum over groups is
/// taken in a body-dependent order (vector lanes, two accumulators).
template <std::size_t G>
inline float q8_row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                        std::size_t groups) noexcept {
    static_assert(G >= 1 && G <= q8_max_group, "ctattn: a Q8 group holds 1..65536 values");
    if constexpr (target::q8_avx512_vnni && !prefer_256_bit_vnni<G>)
        return q8_x86::row_dot_avx512_vnni<G>(w, ws, xq, xs, groups);
    else if constexpr (target::q8_avx_vnni)
        return q8_x86::row_dot_avx_vnni<G>(w, ws, xq, xs, groups);
    else if constexpr (target::q8_avx2)
        return q8_x86::row_dot_avx2<G>(w, ws, xq, xs, groups);
    else if constexpr (target::q8_neon)
        return q8_neon::row_dot<G>(w, ws, xq, xs, groups);
    else if constexpr (target::mve_int)
        return q8_mve::row_dot<G>(w, ws, xq, xs, groups);
    else if constexpr (target::q8_arm_dsp)
        return q8_arm_dsp::row_dot<G>(w, ws, xq, xs, groups);
    else if constexpr (target::soft_float)
        return q8_soft_float::row_dot<G>(w, ws, xq, xs, groups);  // no FPU: scales in integers
    else
        return scalar_q8::row_dot<G>(w, ws, xq, xs, groups);
}

/// R outputs of a Q8 matrix-vector product at once, for kernels that walk a weight matrix R rows at
/// a time: out[r] = q8_row_dot<G>(w + r * row_stride_bytes, ws + r * ws_stride, xq, xs, groups) for
/// r < R, bit for bit. Row r's codes start row_stride_bytes after row r-1's (>= groups * G: rows may
/// be padded), its scales ws_stride floats after. Bodies that can share the activations' loads (and
/// their unpacking or code sums) across the rows do: AVX-512 VNNI, AVX-VNNI (G a multiple of 32),
/// Helium and the Arm DSP body; the others compute the rows one after another. R of 2 to 4 suits every body (registers: R accumulators).
template <std::size_t G, std::size_t R>
inline void q8_rows_dot(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws, std::size_t ws_stride,
                        const std::int8_t* xq, const float* xs, std::size_t groups, float* out) noexcept {
    static_assert(G >= 1 && G <= q8_max_group, "ctattn: a Q8 group holds 1..65536 values");
    static_assert(R >= 1, "ctattn: q8_rows_dot computes at least one row");
    if constexpr (target::q8_avx512_vnni && !prefer_256_bit_vnni<G>) {
        q8_x86::rows_dot_avx512_vnni<G, R>(w, row_stride_bytes, ws, ws_stride, xq, xs, groups, out);
    } else if constexpr (target::q8_avx_vnni && G % 32 == 0) {
        q8_x86::rows_dot_avx_vnni<G, R>(w, row_stride_bytes, ws, ws_stride, xq, xs, groups, out);
    } else if constexpr (target::mve_float) {
        q8_mve::rows_dot<G, R>(w, row_stride_bytes, ws, ws_stride, xq, xs, groups, out);
    } else if constexpr (target::q8_arm_dsp && !target::mve_int) {
        q8_arm_dsp::rows_dot<G, R>(w, row_stride_bytes, ws, ws_stride, xq, xs, groups, out);
    } else {
        CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r)
            out[r] = q8_row_dot<G>(w + r * row_stride_bytes, ws + r * ws_stride, xq, xs, groups);
    }
}

// ---- activations in the layout the target's body reads (the projection kernels use these) ----

/// Whether a Q8 projection with groups of G hands the rows dot its activations as int16 pairs
/// (q8_arm_dsp::quantize_paired) instead of int8 codes: on the Arm DSP body (not under Helium)
/// with a single-precision FPU (its float steps are VFP assembly), for groups of a multiple of 8. Unpacking the activations once per input vector saves the two
/// SXTB16 per 4 codes that every call of the rows dot would repeat, and the paired body reads 8
/// weight codes per LDRD (activation words too: a group's last ones must lie within its 1020-byte
/// reach, so G <= 512).
template <std::size_t G>
inline constexpr bool q8_paired_input =
    target::q8_arm_dsp && !target::mve_int && target::vfp_asm && G % 8 == 0 && G <= 512;

/// One stored unit of quantized activations: a code (int8), or a word of two int16 codes where
/// q8_paired_input<G> holds (2 codes per word).
template <std::size_t G>
using q8_input_word = std::conditional_t<q8_paired_input<G>, std::uint32_t, std::int8_t>;

/// Stored units for `codes` quantized activations.
template <std::size_t G>
inline constexpr std::size_t q8_input_words(std::size_t codes) noexcept {
    return q8_paired_input<G> ? codes / 2 : codes;
}

/// q8_quantize of Count floats into the target's activation layout, padded with zero codes to
/// whole groups (Count / G rounded up; each scale is its real values' own): the same codes and
/// scales as q8_quantize of the zero-padded row, bit for bit.
template <std::size_t G, std::size_t Count>
inline void q8_quantize_input(const float* x, q8_input_word<G>* xq, float* xs) noexcept {
    if constexpr (q8_paired_input<G>) {
        q8_arm_dsp::quantize_paired<G, Count>(x, xq, xs);
    } else {
        constexpr std::size_t full_groups = Count / G, tail = Count % G;
        if constexpr (full_groups > 0) q8_quantize<G>(x, full_groups, xq, xs);
        if constexpr (tail > 0) {
            float padded[G] = {};  // zeros change no maximum and no sum
            for (std::size_t i = 0; i < tail; ++i) padded[i] = x[full_groups * G + i];
            q8_quantize<G>(padded, 1, xq + full_groups * G, xs + full_groups);
        }
    }
}

/// q8_rows_dot against activations from q8_quantize_input, for R rows of a Q8 matrix: row r's codes
/// at w + r * RowStride, its scales at ws + r * RowStride / G; out[r] = q8_row_dot<G> of row r bit
/// for bit. The rows have Codes real codes (groups: Codes / G rounded up); the activations' codes
/// past them up to the last group's end must be zero (a padded row's tail: q8_quantize_input of
/// zeros), so bodies may skip them.
template <std::size_t G, std::size_t R, std::size_t Codes, std::size_t RowStride>
inline void q8_input_rows_dot(const std::int8_t* w, const float* ws, const q8_input_word<G>* xq, const float* xs,
                              float* out) noexcept {
    static_assert(RowStride >= Codes && RowStride % G == 0, "ctattn: a Q8 matrix row is whole groups holding its codes");
    constexpr std::size_t groups = (Codes + G - 1) / G;
    if constexpr (q8_paired_input<G>)
        q8_arm_dsp::paired_rows_dot<G, R, Codes, RowStride>(w, ws, xq, xs, out);
    else if constexpr (R == 1)
        out[0] = q8_row_dot<G>(w, ws, xq, xs, groups);
    else
        q8_rows_dot<G, R>(w, RowStride, ws, RowStride / G, xq, xs, groups, out);
}

}  // namespace ctattn::simd
