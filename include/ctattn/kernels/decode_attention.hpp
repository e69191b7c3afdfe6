// Attention for one new token (decode) on the scalar path, over a KV cache:
//   for each query head h (KV head g = h / group_size):
//     s_j = (q_h . k_j) / sqrt(head_dim)        j in the visible run
//     O_h = sum_j 2^(s'_j - m) v_j / sum_j 2^(s'_j - m),   s'_j = s_j log2 e,  m = max_j s'_j
// in three passes over the visible keys, with the query heads that share a KV head taken
// together, two at a time, so every loaded key and value element feeds two multiply-adds:
//   1. scores: q of both heads stays in registers (pre-scaled by log2(e) / sqrt(head_dim)); each
//      key row is read once for both dot products; the running max is kept on the way;
//   2. weights: 2^(s' - m) by kernels/exp.hpp's exp2_approx, in place, and their sum;
//   3. P V: both heads' head_dim accumulators stay in registers while the value rows stream by;
//      the output is divided by the sum once at the end.
// Contract (as the other attention cores): finite scores give a finite output; keys outside the
// visible run are never read; a NaN score makes its head's output NaN; an empty run, or a row
// whose every score is -inf, gives 0.
#pragma once

#include <cstddef>
#include <limits>

#include "../simd.hpp"
#include "exp.hpp"
#include "mask.hpp"

namespace ctattn::kernels {

namespace detail {
// Heads (1 or 2) query heads against one KV head. q: Heads rows of HeadDim, row stride QStride;
// k, v: that KV head's rows, row stride KvStride; scores: Heads rows of scratch, row stride
// ScoreStride (>= visible.end); out: Heads rows of HeadDim, row stride QStride.
template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride, std::size_t ScoreStride>
inline void decode_heads(const float* q, const float* k, const float* v, key_range visible, float score_scale,
                         float* scores, float* out) noexcept {
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();
    const std::size_t begin = visible.begin, end = visible.end;
    if (begin >= end) {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = 0.0f;
        return;
    }

    // Pass 1: base-2 scores and their max.
    const float to_base2 = score_scale * log2_e;
    float qs[Heads][HeadDim];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) qs[h][d] = q[h * QStride + d] * to_base2;
    float max[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) max[h] = minus_inf;
    for (std::size_t j = begin; j < end; ++j) {
        const float* key = k + j * KvStride;
        float s[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) s[h] = qs[h][0] * key[0];
        CTATTN_UNROLL for (std::size_t d = 1; d < HeadDim; ++d)
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) s[h] = simd::ops<simd::scalar_arch>::fma(qs[h][d], key[d], s[h]);
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            scores[h * ScoreStride + j] = s[h];
            max[h] = s[h] > max[h] ? s[h] : max[h];  // NaN never wins: it reaches the output through pass 2
        }
    }

    // Pass 2: weights and their sums.
    float inv_sum[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        float* row = scores + h * ScoreStride;
        float sum = 0.0f;
        if (max[h] == minus_inf) {  // every score -inf (or NaN): no finite weight to normalise by
            for (std::size_t j = begin; j < end; ++j) sum += row[j] == minus_inf ? 0.0f : row[j];
            for (std::size_t j = begin; j < end; ++j) row[j] = 0.0f;
            inv_sum[h] = sum;  // 0, or NaN when a score was NaN
            continue;
        }
        const float m = max[h];
        for (std::size_t j = begin; j < end; ++j) {
            const float p = exp2_approx(row[j] - m);
            row[j] = p;
            sum += p;
        }
        inv_sum[h] = 1.0f / sum;  // sum >= 1: the max contributes 2^0
    }

    // Pass 3: weighted sum of the value rows.
    float acc[Heads][HeadDim];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) acc[h][d] = 0.0f;
    for (std::size_t j = begin; j < end; ++j) {
        const float* value = v + j * KvStride;
        float p[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) p[h] = scores[h * ScoreStride + j];
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                acc[h][d] = simd::ops<simd::scalar_arch>::fma(p[h], value[d], acc[h][d]);
    }
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = acc[h][d] * inv_sum[h];
}
}  // namespace detail

// Query heads paired per KV head (a lone head when group_size is odd).
inline constexpr std::size_t decode_heads_per_pass = 2;

// One query row (all heads side by side, row q of heads * head_dim floats) against the cached
// keys and values: KV head g's row j at k + g * HeadDim + j * KvStride (v the same). visible: the
// run of keys the query sees (its mask's visible_keys). scores: scratch of
// decode_heads_per_pass * ScoreStride floats, ScoreStride >= visible.end. context: heads * head_dim.
template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride, std::size_t ScoreStride>
inline void decode_attention(const float* q, const float* k, const float* v, key_range visible, float score_scale,
                             float* scores, float* context) noexcept {
    static_assert(Heads % KvHeads == 0, "ctattn: heads must be divisible by kv_heads");
    constexpr std::size_t group = Heads / KvHeads;
    for (std::size_t g = 0; g < KvHeads; ++g) {
        const float* k_head = k + g * HeadDim;
        const float* v_head = v + g * HeadDim;
        std::size_t h = g * group;
        for (; h + 2 <= (g + 1) * group; h += 2)
            detail::decode_heads<2, HeadDim, HeadDim, KvStride, ScoreStride>(
                q + h * HeadDim, k_head, v_head, visible, score_scale, scores, context + h * HeadDim);
        if constexpr (group % 2 == 1)
            detail::decode_heads<1, HeadDim, HeadDim, KvStride, ScoreStride>(
                q + h * HeadDim, k_head, v_head, visible, score_scale, scores, context + h * HeadDim);
    }
}

}  // namespace ctattn::kernels
