// SPDX-License-Identifier: Apache-2.0
// Reading and writing cached K/V rows of each storage type (base/kv_storage.hpp), one row of one KV
// head at a time: the decode kernels convert a row into registers or a head_dim-float buffer, never
// the cache. A row r is stored as head_dim elements e_d and (kv_int8) a scale s_r:
//   float32: x_d = e_d     float16: x_d = half(e_d)     int8: x_d = s_r e_d, s_r a float16 (kv_store_row)
// Reads return the unscaled row (e_d as floats) and the row's scale separately (1 for unscaled
// types), so a kernel multiplies one score or one weight by the scale instead of every element.
// Half conversion: Cortex-M FPUs (FPv4/FPv5/M55) have VCVTB (simd/arm_vfp.hpp), x86 with F16C
// VCVTPH2PS/VCVTPS2PH (simd/x86.hpp, 8 at a time); elsewhere the exact software conversion of
// base/kv_storage.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../../base/kv_storage.hpp"
#include "../../base/mask.hpp"
#include "../../simd/arm_vfp.hpp"
#include "../../simd/ops.hpp"
#include "../../simd/x86.hpp"
#include "../../simd/target.hpp"

namespace ctattn::kernels {

/// The float an element of storage S stands for, before the row's scale.
template <kv_storage S>
[[gnu::always_inline]] inline float kv_element_value(typename S::element e) noexcept {
    if constexpr (std::is_same_v<S, kv_float16>) {
        if constexpr (simd::target::vfp_asm)
            return simd::arm_vfp::half_to_float(e);
        else if constexpr (simd::target::f16c)
            return simd::x86::half_to_float(e);
        else
            return float_from_half(e);
    } else {
        return static_cast<float>(e);
    }
}

/// One float as a float16 bit pattern (ties to even).
[[gnu::always_inline]] inline std::uint16_t kv_half_from_float(float x) noexcept {
    if constexpr (simd::target::vfp_asm)
        return simd::arm_vfp::float_to_half(x);
    else if constexpr (simd::target::f16c)
        return simd::x86::float_to_half(x);
    else
        return half_from_float(x);
}

/// Writes one row x[0 .. HeadDim) as storage S: elements into out, and (kv_int8) its scale into
/// *scale. int8, in two steps: codes e_d = round(x_d / s0) (ties away from zero) with s0 =
/// max|x| / 127 rounded up to a stored scale (so |x_d - s0 e_d| <= s0 / 2 and no code clips), then
/// the stored scale s = sum x_d e_d / sum e_d^2 rounded to nearest, the one minimising
/// sum (x_d - s e_d)^2 for those codes: never worse than s0 but for the 16-bit rounding (2^-9
/// relative). With head_dim 8 that refit is what keeps a 16-bit scale as accurate as a float
/// max|x| / 127 (docs/kv_storage.md). Below float's normal range (max|x| < 127 x 2^-126) the
/// scale's step is 2^-134, absolute. An all-zero row has scale 0; a non-finite x makes the scale
/// NaN and the row reads back as NaN (the kernels then take their careful path).
template <kv_storage S, std::size_t HeadDim>
inline void kv_store_row(const float* x, typename S::element* out, typename S::scale* scale) noexcept {
    if constexpr (std::is_same_v<S, kv_float32>) {
        for (std::size_t d = 0; d < HeadDim; ++d) out[d] = x[d];
    } else if constexpr (std::is_same_v<S, kv_float16>) {
        for (std::size_t d = 0; d < HeadDim; ++d) out[d] = kv_half_from_float(x[d]);
    } else {
        float max_abs = 0.0f;
        bool finite = true;
        for (std::size_t d = 0; d < HeadDim; ++d) {
            const float a = x[d] < 0.0f ? -x[d] : x[d];
            finite = finite && a <= std::numeric_limits<float>::max();  // false for inf and NaN
            max_abs = a > max_abs ? a : max_abs;
        }
        if (!finite) {
            for (std::size_t d = 0; d < HeadDim; ++d) out[d] = 1;
            *scale = kv_scale_bits_nearest(std::numeric_limits<float>::quiet_NaN());
            return;
        }
        const float s0 = kv_scale_value(kv_scale_bits_at_least(max_abs / 127.0f));
        float te = 0.0f, ee = 0.0f;  // in units of s0, so no sum overflows near FLT_MAX
        for (std::size_t d = 0; d < HeadDim; ++d) {
            // A division, not x times 1/s0: 1/s0 overflows for subnormal scales, and a row is
            // quantized once while it is read at every later position.
            const float t = s0 > 0.0f ? x[d] / s0 : 0.0f;  // in [-127, 127] up to rounding
            int e = static_cast<int>(t < 0.0f ? t - 0.5f : t + 0.5f);
            e = e > 127 ? 127 : (e < -127 ? -127 : e);
            out[d] = static_cast<std::int8_t>(e);
            // Fused, written out: left to the compiler, whether t e + te fuses depends on the target
            // and the inlining around it, and the scale's last bit with it (e^2 and ee are exact).
            te = simd::ops<simd::scalar_arch>::fma(t, float(e), te);
            ee += float(e * e);
        }
        // The least-squares scale for these codes (finite: within a few percent of s0).
        *scale = ee > 0.0f ? kv_scale_bits_nearest(s0 * (te / ee)) : std::uint16_t{0};
    }
}

/// The scale of row `row` (1.0f for unscaled types).
template <kv_storage S>
[[gnu::always_inline]] inline float kv_row_scale(const kv_rows<S>& rows, std::size_t row) noexcept {
    if constexpr (S::scaled)
        return kv_scale_value(rows.scales[row]);
    else
        return 1.0f;
}

/// Row `row` of `rows` (one KV head's) unscaled into out[0 .. HeadDim); returns its scale (1.0f
/// for unscaled types).
template <std::size_t HeadDim, std::size_t KvStride, kv_storage S>
[[gnu::always_inline]] inline float kv_load_row(const kv_rows<S>& rows, std::size_t row, float* out) noexcept {
    const typename S::element* e = rows.values + row * KvStride;
    if constexpr (std::is_same_v<S, kv_float16> && simd::target::vfp_asm && HeadDim % 2 == 0 && KvStride % 2 == 0) {
        // Rows start 4-byte aligned (64-byte aligned storage, even strides): a pair per VLDR.
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; d += 2) simd::arm_vfp::halves_to_floats(e + d, out[d], out[d + 1]);
    } else if constexpr (std::is_same_v<S, kv_float16> && simd::target::f16c && HeadDim % 8 == 0) {
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; d += 8) simd::x86::halves_to_floats_8(e + d, out + d);
    } else {
        for (std::size_t d = 0; d < HeadDim; ++d) out[d] = kv_element_value<S>(e[d]);
    }
    return kv_row_scale(rows, row);
}

/// True for rows that carry a scale (kv_rows<kv_int8>); false for a float32 cache's plain pointer.
template <class KvRows>
inline constexpr bool kv_rows_scaled = false;
/// kv_rows of a scaled storage type.
template <kv_storage S>
inline constexpr bool kv_rows_scaled<kv_rows<S>> = S::scaled;

/// Where KV head g's rows start, for a plain float pointer (float32 cache) or kv_rows.
template <std::size_t KvHeadStride, std::size_t KvStride>
[[gnu::always_inline]] inline const float* kv_head_rows(const float* k, std::size_t g) noexcept {
    return k + g * KvHeadStride;
}
/// The same for a typed cache: the elements and the scales of head g.
template <std::size_t KvHeadStride, std::size_t KvStride, kv_storage S>
[[gnu::always_inline]] inline kv_rows<S> kv_head_rows(const kv_rows<S>& k, std::size_t g) noexcept {
    return k.advanced(g * KvHeadStride, g * (KvHeadStride / KvStride));
}

/// The careful one-query path over a typed cache, for rows a decode kernel hands back (a score
/// NaN, -inf or overflowing): scores in double from each converted row, softmax in double.
/// Contract as the float cores': finite rows give a finite convex combination; an empty run gives
/// 0; a NaN anywhere in the run (a non-finite value was cached) gives NaN outputs for that head.
template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride,
          std::size_t KvHeadStride, kv_storage S>
inline void decode_attention_in_double(const float* q, const kv_rows<S>& k, const kv_rows<S>& v,
                                       key_range visible, float score_scale, float* context) noexcept {
    constexpr std::size_t group = Heads / KvHeads;
    for (std::size_t h = 0; h < Heads; ++h) {
        const kv_rows<S> k_head = kv_head_rows<KvHeadStride, KvStride>(k, h / group);
        const kv_rows<S> v_head = kv_head_rows<KvHeadStride, KvStride>(v, h / group);
        const float* q_row = q + h * HeadDim;
        float* out = context + h * HeadDim;
        for (std::size_t d = 0; d < HeadDim; ++d) out[d] = 0.0f;
        if (visible.begin >= visible.end) continue;
        double max = -std::numeric_limits<double>::infinity();
        bool nan = false;
        for (std::size_t j = visible.begin; j < visible.end; ++j) {
            float row[HeadDim];
            const double scale = double(kv_load_row<HeadDim, KvStride>(k_head, j, row));
            double dot = 0.0;
            for (std::size_t d = 0; d < HeadDim; ++d) dot += double(q_row[d]) * double(row[d]);
            const double s = dot * scale * double(score_scale);
            nan = nan || s != s;
            max = s > max ? s : max;
        }
        if (nan || !(max > -std::numeric_limits<double>::infinity()) ||
            !(max < std::numeric_limits<double>::infinity())) {
            for (std::size_t d = 0; d < HeadDim; ++d) out[d] = std::numeric_limits<float>::quiet_NaN();
            continue;
        }
        double sum = 0.0, acc[HeadDim] = {};
        for (std::size_t j = visible.begin; j < visible.end; ++j) {
            float row[HeadDim];
            const double scale = double(kv_load_row<HeadDim, KvStride>(k_head, j, row));
            double dot = 0.0;
            for (std::size_t d = 0; d < HeadDim; ++d) dot += double(q_row[d]) * double(row[d]);
            const double w = __builtin_exp(dot * scale * double(score_scale) - max);
            sum += w;
            const double v_scale = double(kv_load_row<HeadDim, KvStride>(v_head, j, row));
            for (std::size_t d = 0; d < HeadDim; ++d) acc[d] += w * v_scale * double(row[d]);
        }
        for (std::size_t d = 0; d < HeadDim; ++d) out[d] = static_cast<float>(acc[d] / sum);
    }
}

}  // namespace ctattn::kernels
