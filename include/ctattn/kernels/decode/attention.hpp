// SPDX-License-Identifier: Apache-2.0
// Attention for one new token (decode) on the scalar path, over a KV cache:
//   for each query head h (KV head g = h / group_size):
//     s_j = (q_h . k_j) / sqrt(head_dim)        j in the visible run
//     O_h = sum_j 2^(s'_j - m) v_j / sum_j 2^(s'_j - m),   s'_j = s_j log2 e,  m = max_j s'_j
// in three passes over the visible keys, with the query heads that share a KV head taken
// together, two at a time, so every loaded key and value element feeds two multiply-adds:
//   1. scores: q of both heads stays in registers (pre-scaled by log2(e) / sqrt(head_dim)); each
//      key row is read once for both dot products; the running max is kept on the way;
//   2. weights: 2^(s' - m) by simd/math.hpp's polynomial, in place, and their sum;
//   3. P V: both heads' head_dim accumulators stay in registers while the value rows stream by;
//      the output is divided by the sum once at the end.
// The scratch holds the pair's scores interleaved (key j's two scores side by side), so passes 1
// and 3 move both with one instruction. On Cortex-M FPUs with 32 registers, passes 1 and 3 for
// head_dim 8 are assembly: a key or value row is one VLDM of 8 registers (C gets 8 VLDRs).
// Numeric contract (docs/design.md): keys outside the visible run are never read; an empty run
// gives 0; the largest score's weight is 2^0 = 1 exactly, so the sum is >= 1 and finite scores
// give a finite convex combination of the values. A row with a NaN score, or whose largest score
// is +-inf (q . k overflowed, or every score is -inf), is reported (false) and left to the
// general core, which applies the contract's rules for non-finite scores.
#pragma once

#include <cstddef>
#include <limits>

#include "../../simd/ops.hpp"
#include "../../simd/math.hpp"
#include "../../base/mask.hpp"
#include "../projection.hpp"

namespace ctattn::kernels {

// FPv5 (Cortex-M7 with its double-precision FPU, ARMv8-M cores such as the M55) has VMAXNM; GCC
// does not say so with __ARM_FEATURE_NUMERIC_MAXMIN on M-profile, hence this test.
#if defined(CTATTN_VFP_ROW_PROJECTION) && \
    (defined(__ARM_FEATURE_NUMERIC_MAXMIN) || (defined(__ARM_ARCH_7EM__) && (__ARM_FP & 8)) || __ARM_ARCH >= 8)
#define CTATTN_VFP_HAS_VMAXNM 1
#endif

namespace detail {
// max(x, exp2_lowest) where NaN need not survive (the caller checks for NaN separately): one
// VMAXNM on FPv5 (Cortex-M7, M55), a compare elsewhere.
// On Arm it is an asm statement: with fmaxf GCC 12 at -O2 branches around the exp for the
// clamped case (folding the constant through it), which costs more than the VMAXNM.
[[gnu::always_inline]] inline float clamp_exp2_argument(float x) noexcept {
#if defined(CTATTN_VFP_HAS_VMAXNM)
    float clamped;
    asm("vmaxnm.f32 %0, %1, %2" : "=t"(clamped) : "t"(x), "t"(exp2_lowest));
    return clamped;
#else
    return x > exp2_lowest ? x : exp2_lowest;
#endif
}

#if defined(CTATTN_VFP_ROW_PROJECTION)
#if defined(CTATTN_VFP_HAS_VMAXNM)
#define CTATTN_VFP_MAX(m, s) "vmaxnm.f32 " m ", " m ", " s "\n"
#else  // NaN is unordered: the move is skipped, as VMAXNM ignores a NaN
#define CTATTN_VFP_MAX(m, s) "vcmpe.f32 " s ", " m "\n vmrs APSR_nzcv, fpscr\n it gt\n vmovgt.f32 " m ", " s "\n"
#endif
// A key or value row of 8 floats into s0-s7, and the pointer on to the next row: one VLDM with
// write-back when rows are contiguous (the head-by-head cache), else VLDM and an add.
#define CTATTN_VFP_ROW_CONTIGUOUS "vldmia %[k]!, {s0-s7}\n"
#define CTATTN_VFP_ROW_STRIDED "vldmia %[k], {s0-s7}\n add %[k], %[k], %[step]\n"
#define CTATTN_VFP_SCORES_2X8(LOAD_ROW)                                                                    \
    "vldmia %[q], {s16-s31}\n"                                                                            \
    "vldmia %[max], {s10-s11}\n"                                                                          \
    "1:\n" LOAD_ROW                                                                                        \
    "vmul.f32 s8, s16, s0\n vmul.f32 s9, s24, s0\n"                                                       \
    "vfma.f32 s8, s17, s1\n vfma.f32 s9, s25, s1\n"                                                       \
    "vfma.f32 s8, s18, s2\n vfma.f32 s9, s26, s2\n"                                                       \
    "vfma.f32 s8, s19, s3\n vfma.f32 s9, s27, s3\n"                                                       \
    "vfma.f32 s8, s20, s4\n vfma.f32 s9, s28, s4\n"                                                       \
    "vfma.f32 s8, s21, s5\n vfma.f32 s9, s29, s5\n"                                                       \
    "vfma.f32 s8, s22, s6\n vfma.f32 s9, s30, s6\n"                                                       \
    "vfma.f32 s8, s23, s7\n vfma.f32 s9, s31, s7\n"                                                       \
    "vstmia %[scores]!, {s8-s9}\n" CTATTN_VFP_MAX("s10", "s8") CTATTN_VFP_MAX("s11", "s9")                \
    "subs %[n], %[n], #1\n"                                                                               \
    "bne 1b\n"                                                                                            \
    "vstmia %[max], {s10-s11}\n"
#define CTATTN_VFP_SCORES_OPERANDS                                                                          \
    : [k] "+r"(k), [n] "+r"(n), [scores] "+r"(scores)                                                       \
    : [q] "r"(q), [max] "r"(max), [step] "r"(step)                                                          \
    : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s16", "s17", \
      "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"

// Pass 1 for two heads of head_dim 8: scores (interleaved) and the two maxima. q: the two
// pre-scaled query rows, 16 floats; k: key row `begin`, rows KvStride floats apart; n >= 1 keys.
template <std::size_t KvStride>
inline void vfp_scores_2x8(const float* q, const float* k, std::size_t n, float* scores, float* max) noexcept {
    const std::size_t step = KvStride * sizeof(float);
    if constexpr (KvStride == 8)
        asm volatile(CTATTN_VFP_SCORES_2X8(CTATTN_VFP_ROW_CONTIGUOUS) CTATTN_VFP_SCORES_OPERANDS);
    else
        asm volatile(CTATTN_VFP_SCORES_2X8(CTATTN_VFP_ROW_STRIDED) CTATTN_VFP_SCORES_OPERANDS);
}
#undef CTATTN_VFP_SCORES_OPERANDS
#undef CTATTN_VFP_SCORES_2X8
#undef CTATTN_VFP_MAX

#define CTATTN_VFP_WEIGHTED_SUM_2X8(LOAD_ROW)                                                                \
    "vldmia %[zeros], {s16-s31}\n"                                                                        \
    "1:\n"                                                                                                 \
    "vldmia %[p]!, {s8-s9}\n" LOAD_ROW                                                                      \
    "vfma.f32 s16, s8, s0\n vfma.f32 s17, s8, s1\n vfma.f32 s18, s8, s2\n vfma.f32 s19, s8, s3\n"          \
    "vfma.f32 s20, s8, s4\n vfma.f32 s21, s8, s5\n vfma.f32 s22, s8, s6\n vfma.f32 s23, s8, s7\n"          \
    "vfma.f32 s24, s9, s0\n vfma.f32 s25, s9, s1\n vfma.f32 s26, s9, s2\n vfma.f32 s27, s9, s3\n"          \
    "vfma.f32 s28, s9, s4\n vfma.f32 s29, s9, s5\n vfma.f32 s30, s9, s6\n vfma.f32 s31, s9, s7\n"          \
    "subs %[n], %[n], #1\n"                                                                               \
    "bne 1b\n"                                                                                            \
    "vstmia %[out], {s16-s31}\n"
#define CTATTN_VFP_WEIGHTED_SUM_OPERANDS                                                                     \
    : [p] "+r"(p), [k] "+r"(v), [n] "+r"(n)                                                                 \
    : [zeros] "r"(zeros), [out] "r"(out), [step] "r"(step)                                                  \
    : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s16", "s17", "s18", "s19", \
      "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"

// Pass 3 for two heads of head_dim 8: out[h][d] = sum_j p[j][h] v_j[d] (p interleaved, from key
// `begin`; v: value row `begin`, rows KvStride floats apart); n >= 1 keys.
template <std::size_t KvStride>
inline void vfp_weighted_sum_2x8(const float* p, const float* v, std::size_t n, float* out) noexcept {
    const std::size_t step = KvStride * sizeof(float);
    alignas(8) static constexpr float zeros[16] = {};
    if constexpr (KvStride == 8)
        asm volatile(CTATTN_VFP_WEIGHTED_SUM_2X8(CTATTN_VFP_ROW_CONTIGUOUS) CTATTN_VFP_WEIGHTED_SUM_OPERANDS);
    else
        asm volatile(CTATTN_VFP_WEIGHTED_SUM_2X8(CTATTN_VFP_ROW_STRIDED) CTATTN_VFP_WEIGHTED_SUM_OPERANDS);
}
#undef CTATTN_VFP_WEIGHTED_SUM_OPERANDS
#undef CTATTN_VFP_WEIGHTED_SUM_2X8
#undef CTATTN_VFP_ROW_STRIDED
#undef CTATTN_VFP_ROW_CONTIGUOUS
#endif

// Heads (1 or 2) query heads against one KV head. q: Heads rows of HeadDim, row stride QStride;
// k, v: that KV head's rows, row stride KvStride; scores: Heads * visible.end floats of scratch
// (key j's scores at Heads * j ..); out: Heads rows of HeadDim, row stride QStride. false: a
// score was NaN or not finite enough (see below), and out is not written.
template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride>
inline bool decode_heads(const float* q, const float* k, const float* v, key_range visible, float score_scale,
                         float* scores, float* out) noexcept {
    using S = simd::ops<simd::scalar_arch>;
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();
    const std::size_t begin = visible.begin, end = visible.end;
    if (begin >= end) {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = 0.0f;
        return true;
    }
#if defined(CTATTN_VFP_ROW_PROJECTION)
    constexpr bool vfp = Heads == 2 && HeadDim == 8;
#else
    constexpr bool vfp = false;
#endif

    // Pass 1: base-2 scores and their max.
    const float to_base2 = score_scale * log2_e;
    alignas(8) float qs[Heads * HeadDim];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) qs[h * HeadDim + d] = q[h * QStride + d] * to_base2;
    alignas(8) float max[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) max[h] = minus_inf;
    if constexpr (vfp) {
#if defined(CTATTN_VFP_ROW_PROJECTION)
        vfp_scores_2x8<KvStride>(qs, k + begin * KvStride, end - begin, scores + Heads * begin, max);
#endif
    } else {
        for (std::size_t j = begin; j < end; ++j) {
            const float* key = k + j * KvStride;
            float s[Heads];
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) s[h] = qs[h * HeadDim] * key[0];
            CTATTN_UNROLL for (std::size_t d = 1; d < HeadDim; ++d)
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) s[h] = S::fma(qs[h * HeadDim + d], key[d], s[h]);
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                scores[Heads * j + h] = s[h];
                max[h] = s[h] > max[h] ? s[h] : max[h];  // NaN never wins: pass 2 finds it
            }
        }
    }

    // A head whose max is not finite (a score overflowed to +inf, or every score is -inf) is
    // irregular: the caller recomputes the row with the general core, which has the contract's
    // rules (and a double fallback) for it.
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        if (!(max[h] > minus_inf && max[h] < -minus_inf)) return false;

    // Pass 2: weights and their sums. The clamp may turn a NaN argument into a weight of 0, so
    // the arguments' sum (x <= 0: NaN iff one is NaN) finds a NaN score; that row is irregular too.
    float sum[Heads], nan_probe[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) sum[h] = 0.0f, nan_probe[h] = 0.0f;
    for (std::size_t j = begin; j < end; ++j)
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float x = scores[Heads * j + h] - max[h];
            nan_probe[h] += x;
            const float w = exp2_clamped(clamp_exp2_argument(x));
            scores[Heads * j + h] = w;
            sum[h] += w;
        }
    float inv_sum[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        if (nan_probe[h] != nan_probe[h]) return false;
        inv_sum[h] = 1.0f / sum[h];  // sum >= 1: the max contributes 2^0 = 1 exactly
    }

    // Pass 3: weighted sum of the value rows.
    alignas(8) float acc[Heads * HeadDim];
    if constexpr (vfp) {
#if defined(CTATTN_VFP_ROW_PROJECTION)
        vfp_weighted_sum_2x8<KvStride>(scores + Heads * begin, v + begin * KvStride, end - begin, acc);
#endif
    } else {
        CTATTN_UNROLL for (std::size_t i = 0; i < Heads * HeadDim; ++i) acc[i] = 0.0f;
        for (std::size_t j = begin; j < end; ++j) {
            const float* value = v + j * KvStride;
            float p[Heads];
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) p[h] = scores[Heads * j + h];
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                    acc[h * HeadDim + d] = S::fma(p[h], value[d], acc[h * HeadDim + d]);
        }
    }
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
            out[h * QStride + d] = acc[h * HeadDim + d] * inv_sum[h];
    return true;
}
}  // namespace detail

// Query heads taken per pass (a lone head when group_size is odd): the scratch needs this many
// scores per key.
inline constexpr std::size_t decode_heads_per_pass = 2;

// One query row (all heads side by side, heads * head_dim floats) against the cached keys and
// values: KV head g's row j at k + g * KvHeadStride + j * KvStride (v the same). visible: the run of
// keys the query sees (its mask's visible_keys). scores: scratch of decode_heads_per_pass *
// visible.end floats. context: heads * head_dim floats. Returns false for an irregular row (a
// NaN score, or a head whose largest score is +-inf, e.g. q . k overflowed): the caller then
// runs the general one-row core (attend), which has the numeric contract's rules for those.
template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride,
          std::size_t KvHeadStride = HeadDim>
[[nodiscard]] inline bool decode_attention(const float* q, const float* k, const float* v, key_range visible,
                                           float score_scale, float* scores, float* context) noexcept {
    static_assert(Heads % KvHeads == 0, "ctattn: heads must be divisible by kv_heads");
    constexpr std::size_t group = Heads / KvHeads;
    for (std::size_t g = 0; g < KvHeads; ++g) {
        const float* k_head = k + g * KvHeadStride;
        const float* v_head = v + g * KvHeadStride;
        std::size_t h = g * group;
        for (; h + 2 <= (g + 1) * group; h += 2)
            if (!detail::decode_heads<2, HeadDim, HeadDim, KvStride>(q + h * HeadDim, k_head, v_head, visible,
                                                                     score_scale, scores, context + h * HeadDim))
                return false;
        if constexpr (group % 2 == 1)
            if (!detail::decode_heads<1, HeadDim, HeadDim, KvStride>(q + h * HeadDim, k_head, v_head, visible,
                                                                     score_scale, scores, context + h * HeadDim))
                return false;
    }
    return true;
}

}  // namespace ctattn::kernels
