// SPDX-License-Identifier: Apache-2.0
// x86 bodies of simd/q8.hpp's group-scaled int8 row dot, y = sum_g (sw_g * sx_g) * sum_{i in g} w_i q_i:
// the int32 sum of each group in vector lanes (4 products per lane), converted to float once per
// group and multiply-added with the group's scale product; one horizontal sum per row.
//   AVX2:        |w| (u8) * (q * sign w) (s8) with vpmaddubsw, pairs to int32 with vpmaddwd
//   AVX-VNNI:    the same operands into vpdpbusd (32 bytes)
//   AVX-512 VNNI: (w + 128) (u8) * q (s8) with vpdpbusd (64 bytes), less 128 * sum q per group
// Declared on every target, defined only where simd/target.hpp says the ISA is there.
#pragma once

#include "target.hpp"

#include <cstddef>
#include <cstdint>

#if defined(CTATTN_Q8_AVX2) || defined(CTATTN_Q8_AVX512_VNNI)
#include <immintrin.h>
#endif

namespace ctattn::simd::q8_x86 {

// ---- declarations: every target ------------------------------------------------------------
/// The row dot of simd/q8.hpp (same arguments, same preconditions): AVX2 + FMA.
template <std::size_t G>
float row_dot_avx2(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                   std::size_t groups) noexcept;
/// The same with vpdpbusd on 32 bytes (AVX-VNNI, or AVX-512 VNNI + VL).
template <std::size_t G>
float row_dot_avx_vnni(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                       std::size_t groups) noexcept;
/// The same with vpdpbusd on 64 bytes (AVX-512 BW + VNNI).
template <std::size_t G>
float row_dot_avx512_vnni(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                          std::size_t groups) noexcept;

/// R rows at once with vpdpbusd on 32 bytes, for G a multiple of 32: as rows_dot_avx512_vnni, the
/// activations are loaded and summed once for all rows (weights offset by 128, as there); out[r]
/// equals row_dot_avx_vnni<G> of row r bit for bit.
template <std::size_t G, std::size_t R>
void rows_dot_avx_vnni(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws, std::size_t ws_stride,
                       const std::int8_t* xq, const float* xs, std::size_t groups, float* out) noexcept;

/// simd/q8.hpp's quantize on 8 lanes (AVX2): the same operations per value as the scalar body
/// (max |x|, one division, +-0.5 and truncation, clamp), so the same codes and scales bit for bit.
template <std::size_t G>
void quantize_avx2(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept;

/// R rows at once (simd/q8.hpp's q8_rows_dot): each activation vector is loaded, and its code sum
/// taken, once for all R rows; out[r] equals row_dot_avx512_vnni<G> of row r bit for bit.
template <std::size_t G, std::size_t R>
void rows_dot_avx512_vnni(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws, std::size_t ws_stride,
                          const std::int8_t* xq, const float* xs, std::size_t groups, float* out) noexcept;

#if defined(CTATTN_Q8_AVX2) || defined(CTATTN_Q8_AVX512_VNNI)
CTATTN_SILENCE_INTRINSIC_WARNINGS
#endif

#if defined(CTATTN_Q8_AVX2)
namespace detail {

// Eight int32 lanes += four products each. vpmaddubsw multiplies unsigned by signed bytes, so the
// sign moves from w to q: |w| * (q * sign w) = w * q. |w| of -128 is 128 as an unsigned byte
// (exact); q * sign w would wrap for q = -128, which q8_quantize never makes (precondition). A
// pair sums to at most 2 * 128 * 127 = 32512 < 2^15: vpmaddubsw's saturation never triggers.
struct maddubs_dot {
    static __m256i step(__m256i acc, __m256i w, __m256i q) noexcept {
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(q, w));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
};

#if defined(CTATTN_Q8_AVX_VNNI)
// The same operands, summed four at a time straight into int32 (no 16-bit intermediate).
struct vnni_dot_256 {
    static __m256i step(__m256i acc, __m256i w, __m256i q) noexcept {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
        return _mm256_dpbusd_epi32(acc, _mm256_abs_epi8(w), _mm256_sign_epi8(q, w));
#else
        return _mm256_dpbusd_avx_epi32(acc, _mm256_abs_epi8(w), _mm256_sign_epi8(q, w));
#endif
    }
};
#endif

inline float sum_8(__m256 v) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

// All ones in the first n 32-bit lanes (n is a constant at every call: the compiler folds it).
inline __m256i first_lanes_8(unsigned n) noexcept {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256i load_32(const std::int8_t* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// One group's eight int32 lanes (they sum to the group's dot): whole 32-byte vectors, then the
// 4-byte words of the rest by masked load (nothing past the group is read), then its last 0..3
// bytes added to lane 0.
template <std::size_t G, class Dot>
inline __m256i group_lanes_256(const std::int8_t* wg, const std::int8_t* xg) noexcept {
    __m256i lanes = _mm256_setzero_si256();
    constexpr std::size_t whole = G / 32, words = (G % 32) / 4, bytes = G % 4;
    for (std::size_t k = 0; k < whole; ++k) lanes = Dot::step(lanes, load_32(wg + 32 * k), load_32(xg + 32 * k));
    if constexpr (words > 0) {
        const __m256i mask = first_lanes_8(words);
        const std::int8_t* wt = wg + 32 * whole;
        const std::int8_t* xt = xg + 32 * whole;
        lanes = Dot::step(lanes, _mm256_maskload_epi32(reinterpret_cast<const int*>(wt), mask),
                          _mm256_maskload_epi32(reinterpret_cast<const int*>(xt), mask));
    }
    if constexpr (bytes > 0) {
        std::int32_t rest = 0;
        for (std::size_t i = G - bytes; i < G; ++i) rest += std::int32_t(wg[i]) * std::int32_t(xg[i]);
        lanes = _mm256_add_epi32(lanes, _mm256_setr_epi32(rest, 0, 0, 0, 0, 0, 0, 0));
    }
    return lanes;
}

template <std::size_t G, class Dot>
inline float row_dot_256(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                         std::size_t groups) noexcept {
    __m256 acc0 = _mm256_setzero_ps();
    __m256 acc1 = _mm256_setzero_ps();
    std::size_t g = 0;
    if constexpr (G % 4 == 0 && G < 32 && 32 % G == 0) {
        // G = 4, 8, 16: P groups share a vector; lane j (bytes 4j..4j+3) belongs to group j / (G/4),
        // so the lanes are scaled by a vector of scale products spread the same way.
        constexpr std::size_t P = 32 / G, lanes_per_group = G / 4;
        const __m256i lane_group = _mm256_setr_epi32(0, 1 / lanes_per_group, 2 / lanes_per_group, 3 / lanes_per_group,
                                                     4 / lanes_per_group, 5 / lanes_per_group, 6 / lanes_per_group,
                                                     7 / lanes_per_group);
        const __m256i scale_mask = first_lanes_8(P);
        for (; g + P <= groups; g += P) {
            const __m256i lanes = Dot::step(_mm256_setzero_si256(), load_32(w + g * G), load_32(xq + g * G));
            const __m256 scales = _mm256_mul_ps(_mm256_maskload_ps(ws + g, scale_mask), _mm256_maskload_ps(xs + g, scale_mask));
            acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_permutevar8x32_ps(scales, lane_group), acc0);
        }
    }
    // Two accumulators: consecutive groups' multiply-adds do not wait for each other.
    for (; g + 2 <= groups; g += 2) {
        const __m256i lanes0 = group_lanes_256<G, Dot>(w + g * G, xq + g * G);
        const __m256i lanes1 = group_lanes_256<G, Dot>(w + (g + 1) * G, xq + (g + 1) * G);
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes0), _mm256_set1_ps(ws[g] * xs[g]), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes1), _mm256_set1_ps(ws[g + 1] * xs[g + 1]), acc1);
    }
    if (g < groups) {
        const __m256i lanes = group_lanes_256<G, Dot>(w + g * G, xq + g * G);
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(ws[g] * xs[g]), acc0);
    }
    return sum_8(_mm256_add_ps(acc0, acc1));
}

}  // namespace detail

template <std::size_t G>
inline float row_dot_avx2(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                          std::size_t groups) noexcept {
    return detail::row_dot_256<G, detail::maddubs_dot>(w, ws, xq, xs, groups);
}

template <std::size_t G>
inline void quantize_avx2(const float* x, std::size_t groups, std::int8_t* xq, float* xs) noexcept {
    constexpr std::size_t whole = G / 8 * 8;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 half = _mm256_set1_ps(0.5f);
    for (std::size_t g = 0; g < groups; ++g) {
        const float* xg = x + g * G;
        std::int8_t* qg = xq + g * G;
        __m256 amax8 = _mm256_setzero_ps();
        for (std::size_t i = 0; i < whole; i += 8) amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, _mm256_loadu_ps(xg + i)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1)));
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
        const __m256 scale8 = _mm256_set1_ps(scale);
        const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
        for (std::size_t i = 0; i < whole; i += 8) {
            const __m256 v = _mm256_div_ps(_mm256_loadu_ps(xg + i), scale8);
            // v + (v >= 0 ? 0.5 : -0.5): the sign of v on 0.5 (-0.0 gets -0.5; both truncate to 0).
            const __m256 rounded = _mm256_add_ps(v, _mm256_or_ps(half, _mm256_and_ps(sign, v)));
            const __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(rounded), lo), hi);
            const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64(reinterpret_cast<__m128i*>(qg + i), _mm_packs_epi16(q16, q16));
        }
        for (std::size_t i = whole; i < G; ++i) {
            const float v = xg[i] / scale;
            int q = static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f));
            q = q > 127 ? 127 : (q < -127 ? -127 : q);
            qg[i] = static_cast<std::int8_t>(q);
        }
    }
}

#if defined(CTATTN_Q8_AVX_VNNI)
template <std::size_t G>
inline float row_dot_avx_vnni(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                              std::size_t groups) noexcept {
    return detail::row_dot_256<G, detail::vnni_dot_256>(w, ws, xq, xs, groups);
}

template <std::size_t G, std::size_t R>
inline void rows_dot_avx_vnni(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws,
                              std::size_t ws_stride, const std::int8_t* xq, const float* xs, std::size_t groups,
                              float* out) noexcept {
    static_assert(G % 32 == 0, "ctattn: rows_dot_avx_vnni takes whole 32-byte vectors per group");
    static_assert(R >= 1, "ctattn: q8_rows_dot computes at least one row");
    // (w + 128) q summed by vpdpbusd, less 128 sum q (one vpdpbusd with all-ones bytes per vector,
    // shared by the rows): exact for every int8 on both sides, and the same int32 lanes as the sign
    // trick of row_dot_avx_vnni (both are the exact lane sums), so the float steps match it too.
    // Per row and group that is 5 vector instructions (xor with the load, vpdpbusd, convert, scale
    // broadcast, multiply-add): each row's accumulator starts at -128 sum q instead of subtracting it
    // after, and the scale products ws * xs of 8 groups are one vector multiply (the same float
    // products as one by one), broadcast to a group's lanes by a register permute.
    const __m256i ones = _mm256_set1_epi8(1);
    const __m256i top_bit = _mm256_set1_epi8(-128);
    __m256 acc0[R], acc1[R];
    CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (std::size_t g0 = 0; g0 < groups; g0 += 8) {
        const std::size_t count = groups - g0 < 8 ? groups - g0 : 8;
        const __m256i scale_mask = detail::first_lanes_8(static_cast<unsigned>(count));
        const __m256 x_scales = _mm256_maskload_ps(xs + g0, scale_mask);
        __m256 scales[R];
        CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r)
            scales[r] = _mm256_mul_ps(_mm256_maskload_ps(ws + r * ws_stride + g0, scale_mask), x_scales);
        CTATTN_UNROLL for (std::size_t j = 0; j < 8; ++j) {
            if (j >= count) break;
            const std::size_t g = g0 + j;
            __m256i x_sum = _mm256_setzero_si256();
            for (std::size_t k = 0; k < G / 32; ++k) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
                x_sum = _mm256_dpbusd_epi32(x_sum, ones, detail::load_32(xq + g * G + 32 * k));
#else
                x_sum = _mm256_dpbusd_avx_epi32(x_sum, ones, detail::load_32(xq + g * G + 32 * k));
#endif
            }
            const __m256i minus_x_sum_128 = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(x_sum, 7));
            __m256i wq[R];
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) wq[r] = minus_x_sum_128;
            for (std::size_t k = 0; k < G / 32; ++k) {
                const __m256i x = detail::load_32(xq + g * G + 32 * k);
                CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                    const __m256i wr = _mm256_xor_si256(detail::load_32(w + r * row_stride_bytes + g * G + 32 * k), top_bit);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
                    wq[r] = _mm256_dpbusd_epi32(wq[r], wr, x);
#else
                    wq[r] = _mm256_dpbusd_avx_epi32(wq[r], wr, x);
#endif
                }
            }
            const __m256i lane_j = _mm256_set1_epi32(static_cast<int>(j));
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                const __m256 lanes = _mm256_cvtepi32_ps(wq[r]);
                const __m256 scale = _mm256_permutevar8x32_ps(scales[r], lane_j);
                if (g % 2 == 0)
                    acc0[r] = _mm256_fmadd_ps(lanes, scale, acc0[r]);
                else
                    acc1[r] = _mm256_fmadd_ps(lanes, scale, acc1[r]);
            }
        }
    }
    CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) out[r] = detail::sum_8(_mm256_add_ps(acc0[r], acc1[r]));
}
#endif
#endif  // CTATTN_Q8_AVX2

#if defined(CTATTN_Q8_AVX512_VNNI)
namespace detail {

// vpdpbusd multiplies unsigned by signed bytes. The weights are made unsigned by adding 128
// (flipping the top bit), which is exact for every int8 including -128, and so is q: the lanes get
// sum (w + 128) q = sum w q + 128 sum q, and 128 * sum q (a second vpdpbusd with all-ones bytes)
// is taken off once per group. No product saturates: vpdpbusd adds in 32 bits.
struct vnni_lanes_512 {
    __m512i wq = _mm512_setzero_si512();  // sum (w + 128) q, 16 lanes
    __m512i q = _mm512_setzero_si512();   // sum q, 16 lanes
    void step(__m512i w, __m512i x) noexcept {
        wq = _mm512_dpbusd_epi32(wq, _mm512_xor_si512(w, _mm512_set1_epi8(-128)), x);
        q = _mm512_dpbusd_epi32(q, _mm512_set1_epi8(1), x);
    }
    __m512i dots() const noexcept { return _mm512_sub_epi32(wq, _mm512_slli_epi32(q, 7)); }
};

inline __m512i load_64(const std::int8_t* p) noexcept { return _mm512_loadu_si512(p); }
inline __m512i load_first(const std::int8_t* p, std::size_t bytes) noexcept {
    const __mmask64 mask = bytes >= 64 ? ~__mmask64(0) : ((__mmask64(1) << bytes) - 1);
    return _mm512_maskz_loadu_epi8(mask, p);
}

// One group's 16 int32 lanes: whole 64-byte vectors, then the rest by masked load.
template <std::size_t G>
inline __m512i group_lanes_512(const std::int8_t* wg, const std::int8_t* xg) noexcept {
    vnni_lanes_512 lanes;
    constexpr std::size_t whole = G / 64, rest = G % 64;
    for (std::size_t k = 0; k < whole; ++k) lanes.step(load_64(wg + 64 * k), load_64(xg + 64 * k));
    if constexpr (rest > 0) lanes.step(load_first(wg + 64 * whole, rest), load_first(xg + 64 * whole, rest));
    return lanes.dots();
}

}  // namespace detail

template <std::size_t G>
inline float row_dot_avx512_vnni(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                                 std::size_t groups) noexcept {
    __m512 acc0 = _mm512_setzero_ps();
    __m512 acc1 = _mm512_setzero_ps();
    std::size_t g = 0;
    if constexpr (G % 4 == 0 && G < 64 && 64 % G == 0) {
        // G = 4, 8, 16, 32: P groups share a vector (the last P or fewer by masked loads); lane j
        // (bytes 4j..4j+3) belongs to group j / (G/4), and the scale products are spread to match.
        constexpr std::size_t P = 64 / G;
        constexpr int n = static_cast<int>(G / 4);
        const __m512i lane_group = _mm512_setr_epi32(0, 1 / n, 2 / n, 3 / n, 4 / n, 5 / n, 6 / n, 7 / n, 8 / n, 9 / n,
                                                     10 / n, 11 / n, 12 / n, 13 / n, 14 / n, 15 / n);
        constexpr __mmask16 all_scales = static_cast<__mmask16>((1u << P) - 1);
        // Whole vectors (unmasked loads, two accumulators), then the last groups by masked loads.
        for (; g + 2 * P <= groups; g += 2 * P) {
            detail::vnni_lanes_512 lanes0, lanes1;
            lanes0.step(detail::load_64(w + g * G), detail::load_64(xq + g * G));
            lanes1.step(detail::load_64(w + (g + P) * G), detail::load_64(xq + (g + P) * G));
            const __m512 scales0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(all_scales, ws + g), _mm512_maskz_loadu_ps(all_scales, xs + g));
            const __m512 scales1 = _mm512_mul_ps(_mm512_maskz_loadu_ps(all_scales, ws + g + P), _mm512_maskz_loadu_ps(all_scales, xs + g + P));
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes0.dots()), _mm512_permutexvar_ps(lane_group, scales0), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes1.dots()), _mm512_permutexvar_ps(lane_group, scales1), acc1);
        }
        for (; g < groups; g += P) {
            const std::size_t count = groups - g < P ? groups - g : P;
            detail::vnni_lanes_512 lanes;
            lanes.step(detail::load_first(w + g * G, count * G), detail::load_first(xq + g * G, count * G));
            const __mmask16 scale_mask = static_cast<__mmask16>((1u << count) - 1);
            const __m512 scales = _mm512_mul_ps(_mm512_maskz_loadu_ps(scale_mask, ws + g), _mm512_maskz_loadu_ps(scale_mask, xs + g));
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes.dots()), _mm512_permutexvar_ps(lane_group, scales), acc0);
        }
    } else {
        // Two accumulators: consecutive groups' multiply-adds do not wait for each other.
        for (; g + 2 <= groups; g += 2) {
            const __m512i lanes0 = detail::group_lanes_512<G>(w + g * G, xq + g * G);
            const __m512i lanes1 = detail::group_lanes_512<G>(w + (g + 1) * G, xq + (g + 1) * G);
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes0), _mm512_set1_ps(ws[g] * xs[g]), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes1), _mm512_set1_ps(ws[g + 1] * xs[g + 1]), acc1);
        }
        if (g < groups) {
            const __m512i lanes = detail::group_lanes_512<G>(w + g * G, xq + g * G);
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes), _mm512_set1_ps(ws[g] * xs[g]), acc0);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

template <std::size_t G, std::size_t R>
inline void rows_dot_avx512_vnni(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws,
                                 std::size_t ws_stride, const std::int8_t* xq, const float* xs, std::size_t groups,
                                 float* out) noexcept {
    static_assert(R >= 1, "ctattn: q8_rows_dot computes at least one row");
    const __m512i ones = _mm512_set1_epi8(1);
    const __m512i top_bit = _mm512_set1_epi8(-128);
    // The same accumulators, per row, as row_dot_avx512_vnni (even groups into acc0, odd into acc1
    // on the per-group path), so each row's float sum is rounded exactly as there.
    __m512 acc0[R], acc1[R];
    CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
    if constexpr (G % 4 == 0 && G < 64 && 64 % G == 0) {
        constexpr std::size_t P = 64 / G;
        constexpr int n = static_cast<int>(G / 4);
        const __m512i lane_group = _mm512_setr_epi32(0, 1 / n, 2 / n, 3 / n, 4 / n, 5 / n, 6 / n, 7 / n, 8 / n, 9 / n,
                                                     10 / n, 11 / n, 12 / n, 13 / n, 14 / n, 15 / n);
        std::size_t g = 0;
        constexpr __mmask16 all_scales = static_cast<__mmask16>((1u << P) - 1);
        // As row_dot_avx512_vnni: whole vectors in pairs (acc0, acc1), then masked ones into acc0.
        for (; g + 2 * P <= groups; g += 2 * P) {
            const __m512i x0 = detail::load_64(xq + g * G);
            const __m512i x1 = detail::load_64(xq + (g + P) * G);
            const __m512i x0_sum_128 = _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, x0), 7);
            const __m512i x1_sum_128 = _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, x1), 7);
            const __m512 x0_scales = _mm512_maskz_loadu_ps(all_scales, xs + g);
            const __m512 x1_scales = _mm512_maskz_loadu_ps(all_scales, xs + g + P);
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                const std::int8_t* wr = w + r * row_stride_bytes;
                const float* wsr = ws + r * ws_stride;
                const __m512i lanes0 = _mm512_sub_epi32(
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(detail::load_64(wr + g * G), top_bit), x0), x0_sum_128);
                const __m512i lanes1 = _mm512_sub_epi32(
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(detail::load_64(wr + (g + P) * G), top_bit), x1), x1_sum_128);
                const __m512 scales0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(all_scales, wsr + g), x0_scales);
                const __m512 scales1 = _mm512_mul_ps(_mm512_maskz_loadu_ps(all_scales, wsr + g + P), x1_scales);
                acc0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes0), _mm512_permutexvar_ps(lane_group, scales0), acc0[r]);
                acc1[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes1), _mm512_permutexvar_ps(lane_group, scales1), acc1[r]);
            }
        }
        for (; g < groups; g += P) {
            const std::size_t count = groups - g < P ? groups - g : P;
            const __m512i x = detail::load_first(xq + g * G, count * G);
            const __m512i x_sum_128 = _mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, x), 7);
            const __mmask16 scale_mask = static_cast<__mmask16>((1u << count) - 1);
            const __m512 x_scales = _mm512_maskz_loadu_ps(scale_mask, xs + g);
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                const __m512i wr = detail::load_first(w + r * row_stride_bytes + g * G, count * G);
                const __m512i lanes = _mm512_sub_epi32(
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_xor_si512(wr, top_bit), x), x_sum_128);
                const __m512 scales = _mm512_mul_ps(_mm512_maskz_loadu_ps(scale_mask, ws + r * ws_stride + g), x_scales);
                acc0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes), _mm512_permutexvar_ps(lane_group, scales), acc0[r]);
            }
        }
    } else {
        constexpr std::size_t whole = G / 64, rest = G % 64, steps = whole + (rest > 0 ? 1 : 0);
        for (std::size_t g = 0; g < groups; ++g) {
            __m512i x_sum = _mm512_setzero_si512();
            __m512i wq[R];
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) wq[r] = _mm512_setzero_si512();
            for (std::size_t k = 0; k < steps; ++k) {
                const std::size_t bytes = k < whole ? 64 : rest;
                const __m512i x = detail::load_first(xq + g * G + 64 * k, bytes);
                x_sum = _mm512_dpbusd_epi32(x_sum, ones, x);
                CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                    const __m512i wr = detail::load_first(w + r * row_stride_bytes + g * G + 64 * k, bytes);
                    wq[r] = _mm512_dpbusd_epi32(wq[r], _mm512_xor_si512(wr, top_bit), x);
                }
            }
            const __m512i x_sum_128 = _mm512_slli_epi32(x_sum, 7);
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                const __m512 lanes = _mm512_cvtepi32_ps(_mm512_sub_epi32(wq[r], x_sum_128));
                const __m512 scale = _mm512_set1_ps(ws[r * ws_stride + g] * xs[g]);
                if (g % 2 == 0)
                    acc0[r] = _mm512_fmadd_ps(lanes, scale, acc0[r]);
                else
                    acc1[r] = _mm512_fmadd_ps(lanes, scale, acc1[r]);
            }
        }
    }
    CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

#endif  // CTATTN_Q8_AVX512_VNNI

#if defined(CTATTN_Q8_AVX2) || defined(CTATTN_Q8_AVX512_VNNI)
CTATTN_RESTORE_WARNINGS
#endif

}  // namespace ctattn::simd::q8_x86
