// SPDX-License-Identifier: Apache-2.0
// Attention scores: s[j] = scale * (q . k_j) for the keys a mask lets the query see, -inf for the
// rest (so softmax gives them weight exactly 0). The dot product runs along head_dim, which is
// contiguous in both Q and K rows, so for one query K is read as stored: a vector's width of
// keys share each loaded q vector, and one transpose-and-add turns their partial sums into a
// vector of scores (four keys at a time when head_dim is narrower than a vector; a head narrower
// than the vector runs on the narrower arch it fills). For a block of queries (the blocked
// attention core) K is transposed once, in 16 x 16 / 8 x 8 register blocks, and scored as a GEMM.
#pragma once

#include <cstddef>
#include <limits>
#include <type_traits>

#include "../simd/ops.hpp"
#include "../base/mask.hpp"
#include "projection.hpp"
#include "row_dispatch.hpp"

namespace ctattn::kernels {

// q . k over HeadDim elements: SIMD over full vectors, scalar tail. Long rows (a tied LM head
// dots d_model-long rows) split the vectors over up to four partial sums so consecutive FMAs do
// not wait on each other's latency.
template <std::size_t HeadDim, class Arch = simd::default_arch>
inline float dot(const float* a, const float* b) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = HeadDim / W * W;
    constexpr std::size_t vectors = HeadDim / W;
    constexpr std::size_t chains = vectors >= 16 ? 4 : (vectors >= 8 ? 2 : 1);
    constexpr std::size_t chained_end = vectors / chains * chains * W;
    float sum = 0.0f;
    if constexpr (full > 0) {
        typename V::vec acc[chains];
        CTATTN_UNROLL for (std::size_t c = 0; c < chains; ++c) acc[c] = V::zero();
        for (std::size_t d = 0; d < chained_end; d += chains * W)
            CTATTN_UNROLL for (std::size_t c = 0; c < chains; ++c)
                acc[c] = V::fma(V::load(a + d + c * W), V::load(b + d + c * W), acc[c]);
        for (std::size_t d = chained_end; d < full; d += W) acc[0] = V::fma(V::load(a + d), V::load(b + d), acc[0]);
        CTATTN_UNROLL for (std::size_t c = 1; c < chains; ++c) acc[0] = acc[0] + acc[c];
        sum = V::reduce_add(acc[0]);
    }
    for (std::size_t d = full; d < HeadDim; ++d) sum += a[d] * b[d];
    return sum;
}

namespace detail {
// q . k_t for the `width` consecutive keys t = 0..width-1 (rows of K, stride KStride), as one
// vector: lane t holds key t's dot product. Needs HeadDim >= width.
template <std::size_t HeadDim, class Arch, std::size_t KStride>
inline typename simd::ops<Arch>::vec dot_keys(const float* q, const float* k) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = HeadDim / W * W;
    static_assert(full > 0, "ctattn: dot_keys needs head_dim >= the vector width");
    typename V::vec acc[W];
    CTATTN_UNROLL for (std::size_t t = 0; t < W; ++t) acc[t] = V::zero();
    for (std::size_t d = 0; d < full; d += W) {
        const typename V::vec qv = V::load(q + d);
        CTATTN_UNROLL for (std::size_t t = 0; t < W; ++t) acc[t] = V::fma(qv, V::load(k + t * KStride + d), acc[t]);
    }
    typename V::vec sums = V::reduce_add_each(acc);
    if constexpr (full < HeadDim) {
        alignas(64) float tail[W];
        CTATTN_UNROLL for (std::size_t t = 0; t < W; ++t) {
            float s = 0.0f;
            for (std::size_t d = full; d < HeadDim; ++d) s += q[d] * k[t * KStride + d];
            tail[t] = s;
        }
        sums = sums + V::load(tail);
    }
    return sums;
}

// Four dot products against one q: each q vector is loaded once for four keys.
template <std::size_t HeadDim, class Arch, std::size_t KStride>
inline void dot4(const float* q, const float* k, float* out) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = HeadDim / W * W;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    if constexpr (full > 0) {
        typename V::vec a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
        for (std::size_t d = 0; d < full; d += W) {
            const typename V::vec qv = V::load(q + d);
            a0 = V::fma(qv, V::load(k + 0 * KStride + d), a0);
            a1 = V::fma(qv, V::load(k + 1 * KStride + d), a1);
            a2 = V::fma(qv, V::load(k + 2 * KStride + d), a2);
            a3 = V::fma(qv, V::load(k + 3 * KStride + d), a3);
        }
        s0 = V::reduce_add(a0);
        s1 = V::reduce_add(a1);
        s2 = V::reduce_add(a2);
        s3 = V::reduce_add(a3);
    }
    for (std::size_t d = full; d < HeadDim; ++d) {
        s0 += q[d] * k[0 * KStride + d];
        s1 += q[d] * k[1 * KStride + d];
        s2 += q[d] * k[2 * KStride + d];
        s3 += q[d] * k[3 * KStride + d];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}
}  // namespace detail

// One query row against n_keys keys (K rows of HeadDim, row stride KStride). Writes n_keys scores:
// scale * q.k_j inside `visible`, -inf outside.
template <std::size_t HeadDim, class Arch = simd::default_arch, std::size_t KStride = HeadDim>
inline void score_row(const float* q, const float* k, std::size_t n_keys, key_range visible, float scale,
                      float* scores) noexcept {
    using V = simd::ops<Arch>;
    // A head narrower than the vector (head_dim 8 under AVX-512) runs on the widest arch it fills:
    // a vector of 8 keys per transpose-add, where the 16-lane path would fall back to scalar dots.
    using HeadArch = simd::arch_for_width<Arch, HeadDim>;
    if constexpr (!std::is_same_v<HeadArch, Arch>) {
        score_row<HeadDim, HeadArch, KStride>(q, k, n_keys, visible, scale, scores);
        return;
    }
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < visible.begin && j < n_keys; ++j) scores[j] = minus_inf;
    std::size_t j = visible.begin;
    if constexpr (V::width > 1 && HeadDim >= V::width) {
        const typename V::vec scale_v = V::broadcast(scale);
        for (; j + V::width <= visible.end; j += V::width)
            V::store(scores + j, V::mul(detail::dot_keys<HeadDim, Arch, KStride>(q, k + j * KStride), scale_v));
    }
    for (; j + 4 <= visible.end; j += 4) {
        detail::dot4<HeadDim, Arch, KStride>(q, k + j * KStride, scores + j);
        for (std::size_t t = 0; t < 4; ++t) scores[j + t] *= scale;
    }
    for (; j < visible.end; ++j) scores[j] = scale * dot<HeadDim, Arch>(q, k + j * KStride);
    for (j = visible.end; j < n_keys; ++j) scores[j] = minus_inf;
}

// out[t] = q . k_t for a compile-time number of rows k_t (stride KStride): a tied LM head, whose
// keys are the vocabulary's embedding rows. The same vector-of-keys, four-key and single-key steps
// as score_row, with constant bounds throughout (GCC 12 misreads a run-time tail bound after the
// vector loop as overflowing, -Waggressive-loop-optimizations).
template <std::size_t HeadDim, std::size_t Rows, class Arch = simd::default_arch, std::size_t KStride = HeadDim>
inline void dot_rows(const float* q, const float* k, float* out) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr bool vector_of_keys = W > 1 && HeadDim >= W;
    constexpr std::size_t vectors_end = vector_of_keys ? Rows / W * W : 0;
    constexpr std::size_t fours_end = vectors_end + (Rows - vectors_end) / 4 * 4;
    if constexpr (vector_of_keys)
        for (std::size_t j = 0; j < vectors_end; j += W)
            V::store(out + j, detail::dot_keys<HeadDim, Arch, KStride>(q, k + j * KStride));
    for (std::size_t j = vectors_end; j < fours_end; j += 4) detail::dot4<HeadDim, Arch, KStride>(q, k + j * KStride, out + j);
    for (std::size_t j = fours_end; j < Rows; ++j) out[j] = dot<HeadDim, Arch>(q, k + j * KStride);
}

namespace detail {
// kt[d][j] = k_j[d] for d in [DBegin, DEnd), keys [0, n_keys): square blocks of Block keys by
// Block dimensions in registers, the keys past the last whole block element by element. The
// dimension bounds are constants (GCC 12 misreads run-time ones here as overflowing,
// -Waggressive-loop-optimizations); DEnd - DBegin is a multiple of Block. Block 16 needs AVX-512
// and Block 8 AVX (simd/x86.hpp's register transposes; transpose_keys picks them only there).
// With 16 x 16 blocks, the last keys go through one more block, zero-padded, which also writes
// kt's padding up to `padded` (element by element, a few keys of a long head cost as much as
// all the whole blocks: a 12-token prompt at head_dim 512 took 2x longer than a 16-token one).
template <std::size_t Block, std::size_t DBegin, std::size_t DEnd, std::size_t KStride, std::size_t KtStride>
inline void transpose_columns(std::size_t n_keys, std::size_t padded, const float* k, float* kt) noexcept {
    const std::size_t blocks_end = Block > 1 ? n_keys / Block * Block : 0;
    for (std::size_t d = DBegin; d < DEnd; d += Block) {
        for (std::size_t j = 0; j < blocks_end; j += Block) {
            if constexpr (Block == 16) simd::x86::transpose_block_16<KStride, KtStride>(k + j * KStride + d, kt + d * KtStride + j);
            if constexpr (Block == 8) simd::x86::transpose_block_8<KStride, KtStride>(k + j * KStride + d, kt + d * KtStride + j);
        }
        if constexpr (Block == 16) {
            const std::size_t lanes = padded - blocks_end < 16 ? padded - blocks_end : 16;
            if (lanes > 0)
                simd::x86::transpose_block_16<KStride, KtStride>(k + blocks_end * KStride + d, kt + d * KtStride + blocks_end,
                                                                 unsigned(n_keys - blocks_end), unsigned(lanes));
            continue;
        }
        for (std::size_t e = 0; e < Block; ++e) {
            for (std::size_t j = blocks_end; j < n_keys; ++j) kt[(d + e) * KtStride + j] = k[j * KStride + d + e];
            for (std::size_t j = n_keys; j < padded; ++j) kt[(d + e) * KtStride + j] = 0.0f;
        }
    }
}
}  // namespace detail

// K of one head transposed, for scoring a block of queries at once: kt[d][j] = k_j[d] for keys
// j < n_keys, then 0 up to the next multiple of the vector width (a score tile's last vector reads
// those columns; zeros keep the lanes finite, and softmax never looks past the visible keys).
// 16 x 16 blocks in registers where the target has AVX-512, then 8 x 8 ones (AVX), then floats.
template <std::size_t HeadDim, std::size_t KStride, std::size_t KtStride, std::size_t Width>
inline void transpose_keys(std::size_t n_keys, const float* k, float* kt) noexcept {
    const std::size_t padded = (n_keys + Width - 1) / Width * Width;
    constexpr std::size_t wide_end = simd::target::avx512f ? HeadDim / 16 * 16 : 0;
    constexpr std::size_t eights_end = simd::target::avx ? wide_end + (HeadDim - wide_end) / 8 * 8 : wide_end;
    if constexpr (wide_end > 0) detail::transpose_columns<16, 0, wide_end, KStride, KtStride>(n_keys, padded, k, kt);
    if constexpr (eights_end > wide_end)
        detail::transpose_columns<8, wide_end, eights_end, KStride, KtStride>(n_keys, padded, k, kt);
    if constexpr (eights_end < HeadDim)
        detail::transpose_columns<1, eights_end, HeadDim, KStride, KtStride>(n_keys, padded, k, kt);
}

// Raw dot products q_r . k_j (unscaled: softmax_row applies the scale) of Rows queries against the
// keys [begin, end) from transposed K, as a GEMM tile: each step broadcasts one q element per row
// and loads a vector of keys, so neither operand is transposed in registers and nothing is
// reduced horizontally. Columns are written from begin rounded down to the vector width up to end
// rounded up (scores, row stride SStride, must have room; kt is padded by transpose_keys).
template <std::size_t HeadDim, std::size_t Rows, class Arch, std::size_t QStride, std::size_t KtStride,
          std::size_t SStride>
inline void score_rows_transposed(std::size_t begin, std::size_t end, const float* q, const float* kt,
                                  float* scores) noexcept {
    constexpr std::size_t W = simd::ops<Arch>::width;
    constexpr std::size_t tile_vecs = projection_tile_shape<Arch>::vecs;  // what the register file holds
    std::size_t j = begin / W * W;
    for (; j + tile_vecs * W <= end; j += tile_vecs * W)
        detail::projection_tile<Arch, Rows, tile_vecs, HeadDim, QStride, KtStride, SStride>(q, kt + j, nullptr,
                                                                                           scores + j);
    // The rest in one tile as wide as it needs (each q element is broadcast once per tile, so one
    // 3-vector tile beats three 1-vector ones).
    if (j < end)
        with_row_count<tile_vecs>((end - j + W - 1) / W, [&](auto vecs) {
            detail::projection_tile<Arch, Rows, decltype(vecs)::value, HeadDim, QStride, KtStride, SStride>(
                q, kt + j, nullptr, scores + j);
        });
}

// The full score matrix for one head: queries at absolute positions query_pos0 .. +n_queries-1
// against keys 0 .. n_keys-1, masked by Mask. scores is n_queries x n_keys, row stride SStride.
template <std::size_t HeadDim, mask_policy Mask, class Arch = simd::default_arch, std::size_t QStride = HeadDim,
          std::size_t KStride = HeadDim>
inline void attention_scores(std::size_t n_queries, const float* q, std::size_t query_pos0, std::size_t n_keys,
                             const float* k, const typename Mask::params& mask, float scale, float* scores,
                             std::size_t scores_stride) noexcept {
    for (std::size_t i = 0; i < n_queries; ++i)
        score_row<HeadDim, Arch, KStride>(q + i * QStride, k, n_keys,
                                          Mask::visible_keys(mask, query_pos0 + i, n_keys), scale,
                                          scores + i * scores_stride);
}

}  // namespace ctattn::kernels
