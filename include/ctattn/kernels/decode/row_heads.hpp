// SPDX-License-Identifier: Apache-2.0
// One KV head's attention for one new token over a float16 or int8 KV cache (base/kv_storage.hpp)
// on vector arches, for heads of whole vectors (stories15M's head_dim 48 on x86; on AArch64 also
// head_dim 8, which has no key-vectorised kernel there), 1 or 2 query heads:
//     s_j = (q_h . e_j) s^k_j log2(e) / sqrt(head_dim)     e_j the stored row, s^k_j its scale (1: float16)
//     O_h = sum_j (2^(s_j - m) s^v_j) e^v_j / sum_j 2^(s_j - m),   m = max_j s_j
// Vectorised along head_dim as the float32 one-row core (kernels/scores.hpp's dot_keys): each row
// is widened to floats in registers (simd/kv_x86.hpp, simd/kv_neon.hpp) a vector at a time, a
// vector's width of keys makes one transpose-add of partial sums (one score per lane), an int8
// chunk's key scales multiply its scores and its value scales its weights (one vector multiply
// each), so no element is scaled.
// Pass 2's weights and the numeric contract are decode/vector_heads.hpp's (key_chunks): keys
// outside the run are never read; a NaN, +-inf or -inf-containing head is reported (false).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../../simd/ops.hpp"
#include "../../simd/math.hpp"
#include "../../simd/kv_neon.hpp"
#include "../../simd/kv_x86.hpp"
#include "../../base/mask.hpp"
#include "kv_rows.hpp"
#include "vector_heads.hpp"

namespace ctattn::kernels::detail {

template <class Arch>
struct row_decode_heads {
    // Whether rows of storage St and head_dim HeadDim run here on Arch: whole vectors of the widest
    // arch no wider than the head, widened in registers (and, for int8, the chunk's scales too).
    template <class KvRows, std::size_t HeadDim>
    static constexpr bool fits = [] {
        if constexpr (std::is_pointer_v<KvRows>) {
            return false;
        } else {
            using St = typename KvRows::storage;
            using HeadArch = simd::arch_for_width<Arch, HeadDim>;
            constexpr std::size_t HW = simd::width<HeadArch>;
            if constexpr (HW < 4 || HeadDim % HW != 0) return false;
            else if constexpr (simd::target::neon64) return HW == 4 && !std::is_same_v<St, kv_float32>;
            else if constexpr (std::is_same_v<St, kv_float16>) return simd::kv_x86::half_rows<HW>;
            else if constexpr (std::is_same_v<St, kv_int8>) return simd::kv_x86::int8_rows<HW> && simd::kv_x86::scale_rows<HW>;
            else return false;
        }
    }();

    // Elements [0, width) of a stored row as floats (unscaled, exact).
    template <class Vec, kv_storage St>
    [[gnu::always_inline]] static Vec widen(const typename St::element* e) noexcept {
        if constexpr (simd::target::neon64 && std::is_same_v<St, kv_float16>)
            return simd::kv_neon::half_row<Vec>(e);
        else if constexpr (simd::target::neon64)
            return simd::kv_neon::int8_row<Vec>(e);
        else if constexpr (std::is_same_v<St, kv_float16>)
            return simd::kv_x86::half_row<Vec>(e);
        else
            return simd::kv_x86::int8_row<Vec>(e);
    }
    // The first count int8 row scales as floats, 0 past count.
    template <class Vec>
    [[gnu::always_inline]] static Vec scales(const std::uint16_t* bits, std::size_t count) noexcept {
        if constexpr (simd::target::neon64)
            return simd::kv_neon::row_scales<Vec>(bits, count);
        else
            return simd::kv_x86::row_scales<Vec>(bits, count);
    }

    // Heads (1 or 2) query heads of one KV head; the head kernel interface of decode_attention
    // (kernels/decode/attention.hpp): q Heads x HeadDim at stride QStride, rows at stride KvStride,
    // scores: scratch of Heads x visible.end floats, out Heads x HeadDim (stride QStride). False for
    // an irregular head (out not written).
    template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride, kv_storage St>
    static bool attend(const float* q, kv_rows<St> k, kv_rows<St> v, key_range visible, float score_scale,
                       float* scores, float* out) noexcept {
        using HeadArch = simd::arch_for_width<Arch, HeadDim>;
        using H = simd::ops<HeadArch>;
        using vec = typename H::vec;
        constexpr std::size_t W = H::width, vectors = HeadDim / W;
        static_assert(fits<kv_rows<St>, HeadDim>, "ctattn: row_decode_heads needs head_dim a multiple of its vector");
        constexpr float minus_inf = -std::numeric_limits<float>::infinity();
        const std::size_t begin = visible.begin, end = visible.end;
        if (begin >= end) {  // fully masked: the output is 0
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = 0.0f;
            return true;
        }
        key_chunks<Heads, HeadDim, KvStride, HeadArch> chunks;
        chunks.begin = begin;
        chunks.n = end - begin;
        chunks.scores = scores;

        // Pass 1: base-2 scores of W keys at a time, their max and min (as key_chunks::score).
        const float q_scale = score_scale * simd::log2_e;
        vec qs[Heads][vectors];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i)
                qs[h][i] = H::mul(H::load(q + h * QStride + i * W), H::broadcast(q_scale));
        vec max_v[Heads], min_v[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) max_v[h] = H::broadcast(minus_inf), min_v[h] = H::broadcast(-minus_inf);
        chunks.for_each([&](std::size_t c, auto whole) {
            constexpr bool is_whole = decltype(whole)::value;
            const std::size_t j0 = begin + c * W, count = is_whole ? W : chunks.n - c * W;
            vec partial[Heads][W];  // key t's products, summed across lanes by the transpose-add
            CTATTN_UNROLL for (std::size_t t = 0; t < W; ++t) {
                if (!is_whole && t >= count) {  // past the run: not read, scored 0 (masked below)
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) partial[h][t] = H::zero();
                    continue;
                }
                const typename St::element* row = k.values + (j0 + t) * KvStride;
                CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
                    const vec x = widen<vec, St>(row + i * W);
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                        partial[h][t] = i == 0 ? H::mul(qs[h][0], x) : H::fma(qs[h][i], x, partial[h][t]);
                }
            }
            [[maybe_unused]] vec key_scales;
            if constexpr (St::scaled) key_scales = scales<vec>(k.scales + j0, count);
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                vec s = H::reduce_add_each(partial[h]);
                if constexpr (St::scaled) s = H::mul(s, key_scales);
                min_v[h] = H::min(min_v[h], s);  // lanes past the run are 0: no mask needed
                if constexpr (!is_whole) s = H::select_first(count, s, minus_inf);
                max_v[h] = H::max(max_v[h], s);
                H::store(chunks.template chunk_scores<is_whole>(c, h), s);
            }
        });
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float max = H::reduce_max(max_v[h]);
            if (!(max - max == 0.0f)) return false;                // NaN or +-inf
            if (H::any_equal(min_v[h], minus_inf)) return false;  // a -inf score
            chunks.max_b[h] = H::broadcast(max);
            chunks.sum_v[h] = H::zero();
        }

        // Pass 2: weights (their sum unscaled), then each value row weighted for every head.
        vec acc[Heads][vectors];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) acc[h][i] = H::zero();
        chunks.for_each([&](std::size_t c, auto whole) {
            constexpr bool is_whole = decltype(whole)::value;
            const std::size_t j0 = begin + c * W, count = chunks.n - c * W < W ? chunks.n - c * W : W;
            vec e[Heads];
            chunks.template weights<is_whole>(c, e);
            alignas(64) float p[Heads][W];
            [[maybe_unused]] vec value_scales;
            if constexpr (St::scaled) value_scales = scales<vec>(v.scales + j0, count);
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                if constexpr (St::scaled)
                    H::store(p[h], H::mul(e[h], value_scales));
                else
                    H::store(p[h], e[h]);
            }
            for (std::size_t t = 0; t < count; ++t) {
                const typename St::element* row = v.values + (j0 + t) * KvStride;
                CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
                    const vec x = widen<vec, St>(row + i * W);
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                        acc[h][i] = H::fma(H::broadcast(p[h][t]), x, acc[h][i]);
                }
            }
        });
        if (!chunks.finish_sums()) return false;
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i)
                H::store(out + h * QStride + i * W, H::mul(acc[h][i], H::broadcast(chunks.inv_sum[h])));
        return true;
    }
};

}  // namespace ctattn::kernels::detail
