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
// K and V rows may be stored as float32, float16 or int8 (base/kv_storage.hpp). A float16 row is
// converted into registers as it is read (kernels/decode/kv_rows.hpp; on those FPUs one VLDM and 8
// VCVTB/VCVTT, simd/arm_vfp.hpp, the float arithmetic bit for bit). int8 rows (codes e, row scale
// s) take integer passes instead, the same integers and float steps on every core (so a Cortex-M
// gives the host scalar build's bits):
//   1. Q_h = round(qs_h / r_h) in int16, r_h = max|qs_h| / 32767 (each head its own), and
//      s'_j = float(Q_h . e_j) (s_j r_h);
//   2. w_j = 2^(s'_j - m) as for float rows, their sum, and W_h,j = round(w_j s_j U / S) in
//      [0, U], S the largest value scale of the run, U = 32767 (less past 516 keys: int32 sums);
//   3. O_h = float(sum_j W_h,j e_j) (S / U) / sum_j w_j, the sums exact in int32.
// The int16 roundings (relative steps 2^-15 of the largest query element and value term) sit far
// below the int8 rows' own step (2^-8). On Cortex-M with the DSP extension the three passes for two
// heads of head_dim 8 are simd/kv_arm_dsp.hpp's assembly (SMLAD dots, pass 2 with its int16
// packing, SMLAD over pairs of keys). Passes 1 and 3 for float rows are always-inlined steps of
// their own: the firmware's code is the one function it was, instruction for instruction.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
    // int8 rows through simd/kv_arm_dsp.hpp: two heads of head_dim 8, rows 4-byte aligned (pass 3's
    // post-indexed loads step two rows: at most 252 bytes).
    template <std::size_t Heads, std::size_t HeadDim, std::size_t KvStride>
    static constexpr bool int8_rows_in_dsp = simd::kv_arm_dsp::available && Heads == 2 && HeadDim == 8 &&
                                             KvStride % 4 == 0 && 2 * KvStride <= 252;

    // ---- int8 rows: the integer passes (see the header) --------------------------------------------
    // 1.5 x 2^23: for |x| <= 2^22, x + it (one rounding, to nearest even) holds round(x) in its low
    // bits, so a rounding to an integer is one float operation, the same on every core.
    static constexpr float round_magic = 12582912.0f;
    [[gnu::always_inline]] static std::int32_t rounded(float x_plus_magic) noexcept {
        return static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(x_plus_magic) - 0x4b400000u);
    }
    // U, the int16 unit of pass 2's weights: 32767, or less where n keys could overflow pass 3's
    // int32 sums (|sum_j W_j e_j| <= n U 127 < 2^31: U = 32767 up to n = 516).
    // (A division only past 516 keys: no 64-bit division on 32-bit cores.)
    static std::int32_t int8_weight_units(std::size_t n) noexcept {
        return n <= 516 ? 32767 : static_cast<std::int32_t>(std::size_t{0x7fffffff} / (127 * n));
    }

    // Pass 1 over int8 rows: each head's pre-scaled query qs_h as int16 codes Q_h = round(qs_h /
    // r_h), r_h = max|qs_h| / 32767 (all zero for a zero query), then scores[Heads j + h] =
    // float(Q_h . e_j) (s_j r_h) and each head's max. false (nothing written) for a query that is
    // not finite: the caller's general core has the rules for it.
    template <std::size_t Heads, std::size_t HeadDim, std::size_t KvStride>
    [[gnu::always_inline]] static bool int8_score_pass(const float* qs, const kv_rows<kv_int8>& k, std::size_t begin,
                                                       std::size_t end, float* scores, float* max) noexcept {
        std::int32_t codes[Heads * HeadDim];
        float q_scale[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float* q = qs + h * HeadDim;
            float max_abs = 0.0f;
            for (std::size_t d = 0; d < HeadDim; ++d) {
                const float a = q[d] < 0.0f ? -q[d] : q[d];
                if (!(a <= std::numeric_limits<float>::max())) return false;
                max_abs = a > max_abs ? a : max_abs;
            }
            const float to_int = max_abs > 0.0f ? 32767.0f / max_abs : 0.0f;
            for (std::size_t d = 0; d < HeadDim; ++d) {
                const std::int32_t c = rounded(S::fma(q[d], to_int, round_magic));  // |c| <= 32767 up to rounding
                codes[h * HeadDim + d] = c > 32767 ? 32767 : (c < -32767 ? -32767 : c);
            }
            q_scale[h] = max_abs / 32767.0f;
        }
        if constexpr (int8_rows_in_dsp<Heads, HeadDim, KvStride>) {
            alignas(8) simd::kv_arm_dsp::query_pair pair;
            simd::kv_arm_dsp::pack_query_pair(codes, pair);
            pair.scale[0] = q_scale[0], pair.scale[1] = q_scale[1];
            pair.max[0] = max[0], pair.max[1] = max[1];
            simd::kv_arm_dsp::scores_2x8<KvStride>(pair, k.values + begin * KvStride, k.scales + begin, end - begin,
                                                   scores + 2 * begin);
            max[0] = pair.max[0], max[1] = pair.max[1];
        } else {
            for (std::size_t j = begin; j < end; ++j) {
                const std::int8_t* e = k.values + j * KvStride;
                const float key_scale = kv_row_scale(k, j);
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                    std::int32_t dot = 0;
                    CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) dot += codes[h * HeadDim + d] * std::int32_t(e[d]);
                    const float s = static_cast<float>(dot) * (key_scale * q_scale[h]);
                    scores[Heads * j + h] = s;
                    max[h] = s > max[h] ? s : max[h];  // NaN never wins: pass 2 finds it
                }
            }
        }
        return true;
    }

    // Pass 2 for one key: each head's weight w = 2^(s' - m) into its sum (and s' - m into its NaN
    // probe, as for float rows), and W_h = round(w factor) with factor = s_v U / S (pass 2's
    // header): one fused multiply-add onto 1.5 x 2^23, whose low bits are the rounded product.
    template <std::size_t Heads>
    [[gnu::always_inline]] static void int8_weigh(const float* score, const float* max, float factor, float* sum,
                                                  float* probe, std::int32_t* weight) noexcept {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float x = score[h] - max[h];
            probe[h] += x;
            const float w = simd::exp2_clamped(simd::clamp_exp2_argument(x));
            sum[h] += w;
            weight[h] = rounded(S::fma(w, factor, round_magic));  // w <= 1: W <= U
        }
    }

    // Heads (1 or 2) query heads against one KV head's int8 rows: attend's contract, in integers
    // but for the softmax itself (the header's passes; the same numbers on every core).
    template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride>
    [[gnu::always_inline]] static bool int8_attend(const float* q, const kv_rows<kv_int8>& k, const kv_rows<kv_int8>& v,
                                                   std::size_t begin, std::size_t end, float score_scale, float* scores,
                                                   float* out) noexcept {
        constexpr bool dsp = int8_rows_in_dsp<Heads, HeadDim, KvStride>;
        const std::size_t n = end - begin;
        const float to_base2 = score_scale * simd::log2_e;
        alignas(8) float qs[Heads * HeadDim];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) qs[h * HeadDim + d] = q[h * QStride + d] * to_base2;
        alignas(8) float max[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) max[h] = minus_inf;
        if (!int8_score_pass<Heads, HeadDim, KvStride>(qs, k, begin, end, scores, max)) return false;
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            if (!(max[h] > minus_inf && max[h] < -minus_inf)) return false;

        // Pass 2: S, the largest value scale (the largest bits: scales are >= 0), makes w s_v U / S
        // <= U. A value row that was not finite (its scale NaN), or S so small that U / S overflows,
        // sends the row to the general core.
        std::uint32_t largest = 0;
        if constexpr (dsp) {
            largest = simd::kv_arm_dsp::largest_scale(v.scales + begin, n);
        } else {
            for (std::size_t j = begin; j < end; ++j) largest = v.scales[j] > largest ? v.scales[j] : largest;
        }
        const float value_max = kv_scale_value(static_cast<std::uint16_t>(largest));
        const float units = static_cast<float>(int8_weight_units(n));
        const float to_weight = largest != 0 ? units / value_max : 0.0f;
        if (!(value_max <= std::numeric_limits<float>::max() && to_weight <= std::numeric_limits<float>::max()))
            return false;
        float sum[Heads], probe[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) sum[h] = 0.0f, probe[h] = 0.0f;
        alignas(8) std::int32_t acc[Heads * HeadDim];  // pass 3's sums
        if constexpr (dsp) {
            // An odd first key here; the pairs after it in the assembly, their words from the
            // scratch's start (pair p's over key begin + p's scores, already read), then the end mark.
            const std::size_t odd = n % 2, pairs = n / 2;
            std::int32_t first[Heads] = {};
            if (odd) int8_weigh<Heads>(scores + 2 * begin, max, kv_row_scale(v, begin) * to_weight, sum, probe, first);
            std::uint32_t* words = reinterpret_cast<std::uint32_t*>(scores + 2 * begin);
            if (pairs > 0) {
                alignas(8) simd::kv_arm_dsp::weight_state state{{max[0], max[1]}, {sum[0], sum[1]}, {probe[0], probe[1]},
                                                                 to_weight, 0.0f};
                simd::kv_arm_dsp::weights_2x8(scores + 2 * (begin + odd), v.scales + begin + odd, words, pairs, state);
                sum[0] = state.sum[0], sum[1] = state.sum[1], probe[0] = state.probe[0], probe[1] = state.probe[1];
            }
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                if (!(probe[h] - probe[h] == 0.0f)) return false;  // NaN or -inf
            // Pass 3: the pairs in the assembly, the odd key here.
            std::memcpy(words + 2 * pairs, &simd::kv_arm_dsp::weights_end, sizeof(std::uint32_t));
            simd::kv_arm_dsp::weighted_sum_2x8<KvStride>(words, v.values + (begin + odd) * KvStride, acc);
            if (odd) {
                const std::int8_t* e = v.values + begin * KvStride;
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                    CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) acc[h * HeadDim + d] += first[h] * std::int32_t(e[d]);
            }
        } else {
            // W_h,j as a float (an integer below 2^15: exact) over key j's score.
            for (std::size_t j = begin; j < end; ++j) {
                std::int32_t weight[Heads];
                int8_weigh<Heads>(scores + Heads * j, max, kv_row_scale(v, j) * to_weight, sum, probe, weight);
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) scores[Heads * j + h] = static_cast<float>(weight[h]);
            }
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                if (!(probe[h] - probe[h] == 0.0f)) return false;  // NaN or -inf
            // Pass 3.
            CTATTN_UNROLL for (std::size_t i = 0; i < Heads * HeadDim; ++i) acc[i] = 0;
            for (std::size_t j = begin; j < end; ++j) {
                const std::int8_t* e = v.values + j * KvStride;
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                    const std::int32_t w = static_cast<std::int32_t>(scores[Heads * j + h]);
                    CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) acc[h * HeadDim + d] += w * std::int32_t(e[d]);
                }
            }
        }
        // O_h = float(sum_j W_j e_j) ((S / U) / sum_j w_j).
        const float value_unit = value_max / units;
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float out_unit = value_unit / sum[h];  // sum >= 1: the max contributes 2^0 = 1 exactly
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
                out[h * QStride + d] = static_cast<float>(acc[h * HeadDim + d]) * out_unit;
        }
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
        if constexpr (std::is_same_v<KvRows, kv_rows<kv_int8>>) {
            return int8_attend<Heads, HeadDim, QStride, KvStride>(q, k, v, begin, end, score_scale, scores, out);
        } else {
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
            for (std::size_t j = begin; j < end; ++j)
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                    const float x = scores[Heads * j + h] - max[h];
                    nan_probe[h] += x;
                    const float w = simd::exp2_clamped(simd::clamp_exp2_argument(x));
                    scores[Heads * j + h] = w;
                    sum[h] += w;
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
    }
};

}  // namespace ctattn::kernels::detail
