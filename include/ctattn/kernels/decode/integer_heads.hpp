// SPDX-License-Identifier: Apache-2.0
// Decode attention over an int8 KV cache in integers, for cores whose floats are library calls
// (simd::target::int8_kv_attention_in_integers: RV32IMAC, Cortex-M3). Rows as base/kv_storage.hpp
// stores them: k_j[d] = sk_j e_j[d], v_j[d] = sv_j c_j[d], a stored scale s = M 2^(E - 135) (M =
// 256 + its 8 mantissa bits, E the float exponent; E = 0: M = the mantissa, E taken as 1). Per head:
//   query    q'_d = q_d score_scale log2(e) ~ Q_d 2^-k: Q_d integers, |Q_d| <= 2^query_bits, the
//            power of two k per head so that the largest has query_bits bits (exact shifts of q'_d's bits)
//   scores   s_j = 2^-k sum_d Q_d sk_j e_j[d] = D_j M_j 2^(E_j - 135 - k), D_j = sum_d Q_d e_j[d]
//            (int32, exact); all keys in one fixed point, S_j = (D_j M_j) >> (E_max - E_j) in units
//            2^(E_max - 135 - k) (|D_j M_j| < 2^31 by query_bits)
//   weights  w_j = 2^(S_j - S_max) in Q(W): the difference in Q16, 2^-n a shift, 2^-f (f in [0, 1))
//            simd/fixed_point.hpp's polynomial in Q30 (relative error 2^-22.2); the max weighs 2^W exactly
//   output   o[d] = sum_j p_j sv_j c_j[d], p_j = w_j / sum w: acc[d] = sum_j P_j c_j[d] in int32 with
//            P_j = floor(p_j Mv_j 2^(Ev_j - Ev_max) 2^15) (sum_j P_j <= 511 x 2^15, so |acc| < 2^31),
//            then o[d] = acc[d] 2^(Ev_max - 150): one conversion and one multiply per output element
// No float operation per key: a soft-float core pays ~100 instructions for each one it makes. Why
// fixed point is enough: the query's step (2^-12 of its largest element at head_dim 8) is far
// below the keys' own int8 step (2^-8), the fixed-point scores' unit is 2^-16 base-2 units or
// finer (else the call is refused), weights keep W >= 16 bits (22 up to 512 keys).
// A call refuses (try_attend returns false, nothing written) what it cannot do exactly as above:
// a query that is not finite, a NaN row (scale exponent 255), more than 2^15 keys, scores whose
// unit would be coarser than 2^-16; attend then runs the float kernel, which has the numeric
// contract's rules for the irregular rows (docs/design.md).
#pragma once

#include "../../base/language_check.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>

#include "../../base/kv_storage.hpp"
#include "../../base/mask.hpp"
#include "../../simd/fixed_point.hpp"
#include "../../simd/math.hpp"
#include "kv_rows.hpp"
#include "scalar_heads.hpp"

namespace ctattn::kernels::detail {

struct integer_decode_heads {
    /// Bits of the largest query code: |D_j M_j| <= head_dim 2^query_bits 128 x 511 < 2^31
    /// (12 at head_dim 8, 15 at head_dim 1, 7 at head_dim 256).
    static constexpr int query_bits_for(std::size_t head_dim) noexcept {
        const std::uint64_t limit = 0x7fffffffull / (std::uint64_t(head_dim) * 128u * 511u);
        int bits = 0;
        while ((std::uint64_t{2} << bits) <= limit) ++bits;
        return bits;
    }
    /// Whether the int32 dots hold head_dim (query codes of >= 7 bits: head_dim <= 256); wider heads
    /// keep the float kernel.
    template <std::size_t HeadDim>
    static constexpr bool fits = query_bits_for(HeadDim) >= 7;
    /// Most weight bits (w <= 2^W): w Mv < 2^31 (Mv <= 511).
    static constexpr int max_weight_bits = 22;
    /// Fewest weight bits: the sum stays > 2^15, so 2^47 / sum fits 32 bits.
    static constexpr int min_weight_bits = 16;
    /// Fractional bits of the exp's argument (score differences in base-2 units).
    static constexpr int argument_bits = 16;
    /// Fractional bits of P_j (the value rows' weights times their scale mantissas).
    static constexpr int value_weight_bits = 15;

    // A stored scale as M 2^(E - 135).
    struct row_scale {
        std::int32_t mantissa;
        std::int32_t exponent;
    };
    [[gnu::always_inline]] static row_scale decode_scale(std::uint16_t bits) noexcept {
        const std::int32_t e = bits >> 8, m = bits & 0xff;
        return e != 0 ? row_scale{m | 256, e} : row_scale{m, 1};
    }

    /// Q_d = round(x_d 2^k) for one head's base-2 query x (HeadDim floats, read as bits), with k such
    /// that the largest |Q_d| <= 2^Bits has Bits bits (all 0 and k = 0 for a zero query). false: x
    /// is not finite.
    template <std::size_t HeadDim, int Bits>
    static bool quantize_query(const float* x, std::int32_t* codes, std::int32_t& k) noexcept {
        std::uint32_t largest = 0;
        for (std::size_t d = 0; d < HeadDim; ++d) {
            const std::uint32_t a = std::bit_cast<std::uint32_t>(x[d]) & 0x7fffffffu;
            if (a >= 0x7f800000u) return false;
            largest = a > largest ? a : largest;
        }
        if (largest == 0) {
            for (std::size_t d = 0; d < HeadDim; ++d) codes[d] = 0;
            k = 0;
            return true;
        }
        // |x| < 2^(e_max - 126), so k = Bits + 126 - e_max keeps |Q| <= 2^Bits (rounding up to it).
        const std::int32_t e_max = largest >> 23 != 0 ? std::int32_t(largest >> 23) : 1;
        k = Bits + 126 - e_max;
        for (std::size_t d = 0; d < HeadDim; ++d) {
            const std::uint32_t bits = std::bit_cast<std::uint32_t>(x[d]);
            const std::uint32_t biased = (bits >> 23) & 0xffu;
            const std::int32_t e = biased != 0 ? std::int32_t(biased) : 1;
            const std::uint32_t m = (bits & 0x007fffffu) | (biased != 0 ? 0x00800000u : 0u);
            // x = m 2^(e - 150): Q = round(m 2^(e - 150 + k)), a right shift by >= 24 - Bits + (e_max - e).
            const std::int32_t shift = 150 - k - e;
            const std::uint32_t magnitude = shift >= 32 ? 0u : (m + (1u << (shift - 1))) >> shift;
            codes[d] = (bits >> 31) != 0 ? -std::int32_t(magnitude) : std::int32_t(magnitude);
        }
        return true;
    }

    // Heads (1 or 2) query heads against one KV head's int8 rows, as scalar_decode_heads::attend
    // (same arguments; scores: Heads * visible.end floats of scratch, used as 32-bit integers).
    // false: refused (see the header), nothing written.
    template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride>
    static bool try_attend(const float* q, const kv_rows<kv_int8>& k, const kv_rows<kv_int8>& v, key_range visible,
                           float score_scale, float* scores, float* out) noexcept {
        constexpr int query_bits = query_bits_for(HeadDim);
        static_assert(fits<HeadDim>, "ctattn: the integer int8 KV attention takes head_dim <= 256 (int32 dots)");
        const std::size_t begin = visible.begin, end = visible.end;
        if (begin >= end) {
            for (std::size_t h = 0; h < Heads; ++h)
                for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = 0.0f;
            return true;
        }
        const std::size_t keys = end - begin;
        if (keys > (std::size_t{1} << 15)) return false;

        // The query in integers, one power-of-two scale per head.
        const float to_base2 = score_scale * simd::log2_e;
        std::int32_t query[Heads][HeadDim], k_shift[Heads];
        for (std::size_t h = 0; h < Heads; ++h) {
            float x[HeadDim];
            for (std::size_t d = 0; d < HeadDim; ++d) x[d] = q[h * QStride + d] * to_base2;
            if (!quantize_query<HeadDim, query_bits>(x, query[h], k_shift[h])) return false;
        }

        // The largest scale exponents (keys: the scores' common unit; values: the output's).
        std::int32_t key_exponent = 1, value_exponent = 1;
        for (std::size_t j = begin; j < end; ++j) {
            const std::int32_t ek = k.scales[j] >> 8, ev = v.scales[j] >> 8;
            key_exponent = ek > key_exponent ? ek : key_exponent;
            value_exponent = ev > value_exponent ? ev : value_exponent;
        }
        if (key_exponent == 255 || value_exponent == 255) return false;  // a NaN row

        // Score differences in Q16: S has 2^-a units, a = 135 + k - E_max; a >= 16 right-shifts by
        // a - 16, a < 16 would need a left shift: refused (scores that large go to the float kernel).
        std::int32_t to_q16[Heads];
        for (std::size_t h = 0; h < Heads; ++h) {
            const std::int32_t a = 135 + k_shift[h] - key_exponent;
            if (a < argument_bits) return false;
            to_q16[h] = a - argument_bits > 31 ? 31 : a - argument_bits;
        }

        // Pass 1: scores in the common fixed point, and each head's max.
        std::int32_t max[Heads];
        for (std::size_t h = 0; h < Heads; ++h) max[h] = INT32_MIN;
        for (std::size_t j = begin; j < end; ++j) {
            const row_scale s = decode_scale(k.scales[j]);
            const std::int32_t align = key_exponent - s.exponent > 31 ? 31 : key_exponent - s.exponent;
            const std::int8_t* e = k.values + j * KvStride;
            std::int32_t dot[Heads] = {};
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) {
                const std::int32_t code = e[d];
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) dot[h] += query[h][d] * code;
            }
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                const std::int32_t score = (dot[h] * s.mantissa) >> align;
                scores[Heads * j + h] = std::bit_cast<float>(score);
                max[h] = score > max[h] ? score : max[h];
            }
        }

        // Pass 2: weights 2^(S - S_max) in Q(W) and their sums. W: sum <= keys 2^W <= 2^31.
        std::int32_t weight_bits = max_weight_bits;
        while (weight_bits > min_weight_bits && (std::size_t{1} << (31 - weight_bits)) < keys) --weight_bits;
        const std::int32_t weight_shift = 30 - weight_bits;  // Q30 -> Q(W)
        std::uint32_t sum[Heads] = {};
        for (std::size_t j = begin; j < end; ++j)
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                const std::uint32_t difference = std::uint32_t(max[h]) - std::bit_cast<std::uint32_t>(scores[Heads * j + h]);
                const std::uint32_t x = difference >> to_q16[h];  // Q16, >= 0
                const std::uint32_t shift = std::uint32_t(weight_shift) + (x >> argument_bits);
                const std::uint32_t w =
                    shift >= 32 ? 0u
                                : (simd::fixed_point::exp2_negative_q31((x & 0xffffu) << 15) + (1u << (shift - 1))) >> shift;
                scores[Heads * j + h] = std::bit_cast<float>(w);
                sum[h] += w;
            }

        // Pass 3: P_j = floor(w_j Mv_j 2^15 / sum >> (Ev_max - Ev_j)), acc = sum_j P_j c_j in int32.
        std::uint32_t reciprocal[Heads];  // 2^47 / sum: sum >= 2^W >= 2^16, so < 2^31
        for (std::size_t h = 0; h < Heads; ++h)
            reciprocal[h] = std::uint32_t((std::uint64_t{1} << (32 + value_weight_bits)) / sum[h]);
        std::int32_t acc[Heads][HeadDim] = {};
        for (std::size_t j = begin; j < end; ++j) {
            const row_scale s = decode_scale(v.scales[j]);
            const std::int32_t align = value_exponent - s.exponent > 31 ? 31 : value_exponent - s.exponent;
            std::int32_t weight[Heads];
            std::uint32_t any = 0;
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                const std::uint32_t w = std::bit_cast<std::uint32_t>(scores[Heads * j + h]);
                weight[h] = std::int32_t(simd::fixed_point::mul_high(w * std::uint32_t(s.mantissa), reciprocal[h]) >> align);
                any |= std::uint32_t(weight[h]);
            }
            if (any == 0) continue;  // keys far below the max weigh nothing
            const std::int8_t* c = v.values + j * KvStride;
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) {
                const std::int32_t code = c[d];
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) acc[h][d] += weight[h] * code;
            }
        }

        // o = acc 2^(Ev_max - 150): the power of two as a float's bits (subnormal below 2^-126).
        const float unit = std::bit_cast<float>(value_exponent >= 24 ? std::uint32_t(value_exponent - 23) << 23
                                                                     : 1u << (value_exponent - 1));
        for (std::size_t h = 0; h < Heads; ++h)
            for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = float(acc[h][d]) * unit;
        return true;
    }

    // The decode walk's kernel (decode_attention): the integer passes, or for what they refuse the
    // float kernel (which reports irregular rows to the caller as always).
    template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride>
    [[gnu::noinline]] static bool attend(const float* q, kv_rows<kv_int8> k, kv_rows<kv_int8> v, key_range visible,
                                         float score_scale, float* scores, float* out) noexcept {
        if (try_attend<Heads, HeadDim, QStride, KvStride>(q, k, v, visible, score_scale, scores, out)) return true;
        return scalar_decode_heads::attend<Heads, HeadDim, QStride, KvStride>(q, k, v, visible, score_scale, scores,
                                                                              out);
    }
};

}  // namespace ctattn::kernels::detail
