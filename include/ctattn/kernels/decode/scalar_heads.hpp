// SPDX-License-Identifier: Apache-2.0
// One KV head's attention for one new token on the scalar path (Cortex-M), for 1 or 2 query heads
// sharing it (kernels/decode/attention.hpp walks the pairs):
//     s'_j = (q_h . k_j) log2(e) / sqrt(head_dim)        j in the visible run (scores in base 2)
//     O_h = sum_j 2^(s'_j - m) v_j / sum_j 2^(s'_j - m),   m = max_j s'_j
// in three passes over the visible keys, every loaded key and value element feeding both heads:
//   1. scores: q of both heads stays in registers (pre-scaled by log2(e) / sqrt(head_dim)); each
//      key row is read once for both dot products; the running max is kept on the way;
//   2. weights: 2^(s' - m) by simd/math.hpp's polynomial, in place, and their sum;
//   3. P V: both heads' head_dim accumulators stay in registers while the value rows stream by;
//      the output is divided by the sum once at the end.
// The scratch holds the pair's scores interleaved (key j's two scores side by side), so passes 1
// and 3 move both with one instruction. On Cortex-M FPUs with 32 registers, passes 1 and 3 for
// two heads of head_dim 8 are simd/arm_vfp.hpp's assembly: a key or value row is one VLDM.
// K and V rows may be stored as float32, float16 or int8 (base/kv_storage.hpp): a typed row is
// converted into registers as it is read (kernels/decode/kv_rows.hpp), its int8 scale applied to the
// score or the weight. On those FPUs the typed rows' passes are assembly too: a float16 row is one
// VLDM and 8 VCVTB/VCVTT (simd/arm_vfp.hpp, the float arithmetic bit for bit); int8 rows are LDRD,
// 8 SXTB16 and 8 VCVT from 16-bit fixed point (exact, bit for bit the C loop), or with CTATTN_KV_INT8_INTEGER_DOTS
// integer scores (SMLAD dots against the pair's query in int16) and biased value sums; each int8
// value row's scale is folded into its weight in pass 2 (simd/kv_arm_dsp.hpp). Passes 1 and 3 are
// always-inlined steps of their own: the firmware's code is the one function it was, instruction
// for instruction (tools/emulated_counts.py counts are unchanged).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../../simd/ops.hpp"
#include "../../simd/math.hpp"
#include "../../simd/arm_vfp.hpp"
#include "../../simd/kv_arm_dsp.hpp"
#include "../../base/mask.hpp"
#include "kv_rows.hpp"

namespace ctattn::kernels::detail {

struct scalar_decode_heads {
    using S = simd::ops<simd::scalar_arch>;
    static constexpr float minus_inf = -std::numeric_limits<float>::infinity();

    // float16 rows through the VFP assembly's half passes: two heads of head_dim 8, rows 4-byte
    // aligned (even strides in halves: the storage is 64-byte aligned).
    template <class KvRows, std::size_t Heads, std::size_t HeadDim, std::size_t KvStride>
    static constexpr bool half_rows_in_asm = std::is_same_v<KvRows, kv_rows<kv_float16>> && simd::target::vfp_asm &&
                                             Heads == 2 && HeadDim == 8 && KvStride % 2 == 0;
    // int8 rows through simd/kv_arm_dsp.hpp: two heads of head_dim 8, rows 4-byte aligned. Pass 1
    // takes integer dots with the pair's query quantized to int16, pass 3 converts each code with
    // one VCVTB/VCVTT, and pass 2 folds each value row's scale into its weights.
    template <class KvRows, std::size_t Heads, std::size_t HeadDim, std::size_t KvStride>
    static constexpr bool int8_rows_in_dsp = std::is_same_v<KvRows, kv_rows<kv_int8>> && simd::kv_arm_dsp::available &&
                                             Heads == 2 && HeadDim == 8 && KvStride % 4 == 0 && KvStride <= 1020;

    // Pass 1 over int8 rows for two heads of head_dim 8 in integer dots: score = (Q . e) (q_scale
    // s_j), Q the pair's queries as int16 (relative step 2^-15 of the larger query's largest
    // element, far below the keys' own int8 step). false (nothing written) for a query the int16
    // packing refuses (not finite, or all zero): the float loop then scores the keys.
    template <std::size_t KvStride>
    [[gnu::always_inline]] static bool int8_scores_2x8(const float* qs, const kv_rows<kv_int8>& k, std::size_t begin,
                                                       std::size_t end, float* scores, float* max) noexcept {
        if constexpr (!simd::kv_arm_dsp::integer_dots) {
            // The float dots over exact rows, each times its key's scale (read in the assembly).
            simd::kv_arm_dsp::exact_scores_2x8<KvStride>(qs, k.values + begin * KvStride, k.scales + begin,
                                                         end - begin, scores + 2 * begin, max);
            return true;
        }
        std::uint32_t packed[8];
        const float q_scale = simd::kv_arm_dsp::pack_query_pair(qs, packed);
        if (q_scale == 0.0f) return false;
        // Each key's scale factor where its first score goes (the assembly reads it there, then
        // stores the scores over it): the scales are read only through kv_row_scale.
        float* slot = scores + 2 * begin;
        for (std::size_t j = begin; j < end; ++j, slot += 2) *slot = kv_row_scale(k, j) * q_scale;
        simd::kv_arm_dsp::scores_2x8<KvStride>(packed, k.values + begin * KvStride, end - begin, scores + 2 * begin,
                                               max);
        return true;
    }

    // Pass 1: base-2 scores of the pre-scaled queries qs (Heads rows of HeadDim) for keys
    // [begin, end) into scores (key j's at Heads * j ..), and each head's max. k: a float32 cache's
    // rows (const float*) or a typed cache's (kv_rows: each row converted into registers, its scale
    // applied to the score).
    template <std::size_t Heads, std::size_t HeadDim, std::size_t KvStride, class KvRows>
    [[gnu::always_inline]] static void score_pass(const float* qs, KvRows k, std::size_t begin, std::size_t end,
                                                  float* scores, float* max) noexcept {
        constexpr bool float_rows = std::is_pointer_v<KvRows>;
        if constexpr (float_rows && simd::target::vfp_asm && Heads == 2 && HeadDim == 8) {
            simd::arm_vfp::scores_2x8<KvStride>(qs, k + begin * KvStride, end - begin, scores + Heads * begin, max);
        } else if constexpr (half_rows_in_asm<KvRows, Heads, HeadDim, KvStride>) {
            simd::arm_vfp::scores_2x8<KvStride>(qs, k.values + begin * KvStride, end - begin, scores + Heads * begin, max);
        } else {
            if constexpr (int8_rows_in_dsp<KvRows, Heads, HeadDim, KvStride>)
                if (int8_scores_2x8<KvStride>(qs, k, begin, end, scores, max)) return;
            for (std::size_t j = begin; j < end; ++j) {
                [[maybe_unused]] float row[float_rows ? 1 : HeadDim];
                [[maybe_unused]] float scale = 1.0f;
                const float* key;
                if constexpr (float_rows) {
                    key = k + j * KvStride;
                } else {
                    scale = kv_load_row<HeadDim, KvStride>(k, j, row);
                    key = row;
                }
                float s[Heads];
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) s[h] = qs[h * HeadDim] * key[0];
                CTATTN_UNROLL for (std::size_t d = 1; d < HeadDim; ++d)
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) s[h] = S::fma(qs[h * HeadDim + d], key[d], s[h]);
                if constexpr (kv_rows_scaled<KvRows>)
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) s[h] *= scale;
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                    scores[Heads * j + h] = s[h];
                    max[h] = s[h] > max[h] ? s[h] : max[h];  // NaN never wins: pass 2 finds it
                }
            }
        }
    }

    // Pass 3: acc[h][d] = sum_j p[j][h] v_j[d] over the visible keys (weights interleaved in p).
    // v as k in pass 1: a typed row is converted into registers, its scale applied to the weights.
    template <std::size_t Heads, std::size_t HeadDim, std::size_t KvStride, class KvRows>
    [[gnu::always_inline]] static void weighted_sum_pass(const float* p, KvRows v, std::size_t begin,
                                                         std::size_t end, float* acc) noexcept {
        constexpr bool float_rows = std::is_pointer_v<KvRows>;
        if constexpr (float_rows && simd::target::vfp_asm && Heads == 2 && HeadDim == 8) {
            simd::arm_vfp::weighted_sum_2x8<KvStride>(p + Heads * begin, v + begin * KvStride, end - begin, acc);
        } else if constexpr (half_rows_in_asm<KvRows, Heads, HeadDim, KvStride>) {
            simd::arm_vfp::weighted_sum_2x8<KvStride>(p + Heads * begin, v.values + begin * KvStride, end - begin, acc);
        } else if constexpr (int8_rows_in_dsp<KvRows, Heads, HeadDim, KvStride>) {
            // p holds the weights times their rows' scales (pass 2 folds them in); the biased codes'
            // 1152 sum_j w_j comes off once.
            if constexpr (simd::kv_arm_dsp::integer_dots) {
                alignas(8) float weight_sums[Heads];
                simd::kv_arm_dsp::weighted_sum_2x8<KvStride>(p + Heads * begin, v.values + begin * KvStride,
                                                             end - begin, acc, weight_sums);
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                    CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
                        acc[h * HeadDim + d] -= simd::kv_arm_dsp::code_bias * weight_sums[h];
            } else {
                simd::kv_arm_dsp::exact_weighted_sum_2x8<KvStride>(p + Heads * begin, v.values + begin * KvStride,
                                                                   end - begin, acc);
            }
        } else {
            CTATTN_UNROLL for (std::size_t i = 0; i < Heads * HeadDim; ++i) acc[i] = 0.0f;
            for (std::size_t j = begin; j < end; ++j) {
                [[maybe_unused]] float row[float_rows ? 1 : HeadDim];
                [[maybe_unused]] float scale = 1.0f;
                const float* value;
                if constexpr (float_rows) {
                    value = v + j * KvStride;
                } else {
                    scale = kv_load_row<HeadDim, KvStride>(v, j, row);
                    value = row;
                }
                float weight[Heads];
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) weight[h] = p[Heads * j + h];
                if constexpr (kv_rows_scaled<KvRows>)
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) weight[h] *= scale;
                CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                        acc[h * HeadDim + d] = S::fma(weight[h], value[d], acc[h * HeadDim + d]);
            }
        }
    }

    // Heads (1 or 2) query heads against one KV head. q: Heads rows of HeadDim, row stride
    // QStride; k, v: that KV head's rows, row stride KvStride; scores: Heads * visible.end floats
    // of scratch (key j's scores at Heads * j ..); out: Heads rows of HeadDim, row stride QStride.
    // false: a score was NaN or -inf, or a head's max is not finite (a score overflowed to +inf, or
    // every score is -inf); out is then not written and the caller recomputes the row with the general
    // core, which has the contract's rules (and a double fallback) for it.
    // k, v: const float* (a float32 cache) or kv_rows (a typed one, base/kv_storage.hpp).
    // Never inlined: GCC inlines the typed caches' instances into the block and there keeps the
    // maxima and pass 2's constants on the stack (~3 instructions more per key); the float32
    // instance was already a function of its own.
    template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride, class KvRows>
    [[gnu::noinline]] static bool attend(const float* q, KvRows k, KvRows v, key_range visible, float score_scale,
                       float* scores, float* out) noexcept {
        const std::size_t begin = visible.begin, end = visible.end;
        if (begin >= end) {
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = 0.0f;
            return true;
        }
        const float to_base2 = score_scale * simd::log2_e;
        alignas(8) float qs[Heads * HeadDim];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) qs[h * HeadDim + d] = q[h * QStride + d] * to_base2;
        alignas(8) float max[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) max[h] = minus_inf;
        score_pass<Heads, HeadDim, KvStride>(qs, k, begin, end, scores, max);
        // A head whose max is not finite (a score overflowed to +inf, or every score is -inf) is
        // irregular: the caller recomputes the row with the general core, which has the contract's
        // rules (and a double fallback) for it.
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            if (!(max[h] > minus_inf && max[h] < -minus_inf)) return false;

        // Pass 2: weights 2^(s' - m) in place and their sums. The clamp may turn a NaN argument into
        // a weight of 0, and a score of -inf (q . k overflowed with the sign of a partial sum, not
        // of the exact value: the VFP assembly of pass 1 and the C loop alike) weighs 0 too, so the
        // arguments' sum (x <= 0) is the probe: not finite iff one score is NaN or -inf, or the
        // arguments together pass -FLT_MAX (scores spread by ~1e38: the general core is right there
        // too, only slower); such a row is irregular. One subtraction per head, not per key. (Written here, not as a step of its own like passes 1 and 3: moved
        // into a helper, even an always-inlined one, it changes GCC 12's register allocation on
        // Cortex-M and with it the instruction counts per token.)
        float sum[Heads], nan_probe[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) sum[h] = 0.0f, nan_probe[h] = 0.0f;
        if constexpr (int8_rows_in_dsp<KvRows, Heads, HeadDim, KvStride>) {
            // The same, each weight stored times its value row's scale for pass 3 (sum unscaled).
            for (std::size_t j = begin; j < end; ++j) {
                const float value_scale = kv_row_scale(v, j);
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                    const float x = scores[Heads * j + h] - max[h];
                    nan_probe[h] += x;
                    const float w = simd::exp2_clamped(simd::clamp_exp2_argument(x));
                    scores[Heads * j + h] = w * value_scale;
                    sum[h] += w;
                }
            }
        } else {
            for (std::size_t j = begin; j < end; ++j)
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                    const float x = scores[Heads * j + h] - max[h];
                    nan_probe[h] += x;
                    const float w = simd::exp2_clamped(simd::clamp_exp2_argument(x));
                    scores[Heads * j + h] = w;
                    sum[h] += w;
                }
        }
        float inv_sum[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            if (!(nan_probe[h] - nan_probe[h] == 0.0f)) return false;  // NaN or -inf
            inv_sum[h] = 1.0f / sum[h];  // sum >= 1: the max contributes 2^0 = 1 exactly
        }

        alignas(8) float acc[Heads * HeadDim];
        weighted_sum_pass<Heads, HeadDim, KvStride>(scores, v, begin, end, acc);
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
                out[h * QStride + d] = acc[h * HeadDim + d] * inv_sum[h];
        return true;
    }
};

}  // namespace ctattn::kernels::detail
