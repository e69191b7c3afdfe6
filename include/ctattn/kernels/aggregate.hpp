// SPDX-License-Identifier: Apache-2.0
// Value aggregation: out[d] = sum_j p[j] * v_j[d] over the visible keys, the attention-weighted
// mix of value rows. SIMD runs along head_dim (contiguous in V): each weight is broadcast once and
// multiplied into up to four vectors of the output held in registers, with consecutive keys in
// separate partial sums so the FMAs do not wait on each other.
#pragma once

#include <cstddef>
#include <type_traits>

#include "../simd/ops.hpp"
#include "../base/mask.hpp"
#include "projection.hpp"

namespace ctattn::kernels {

namespace detail {
// FMA latency x FMA ports (4 x 2 on current cores) independent accumulators keep the FMA ports
// busy; a block of Vecs output vectors has only Vecs chains, so consecutive keys feed `Chains`
// separate partial sums that are added once at the end.
template <std::size_t Vecs>
inline constexpr std::size_t aggregate_chains = Vecs >= 8 ? 1 : (8 / Vecs > 4 ? 4 : 8 / Vecs);

template <class Arch, std::size_t Vecs, std::size_t VStride>
inline void aggregate_block(const float* p, const float* v, key_range visible, float* out) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t Chains = aggregate_chains<Vecs>;
    typename V::vec acc[Chains][Vecs];
    CTATTN_UNROLL for (std::size_t c = 0; c < Chains; ++c)
        CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n) acc[c][n] = V::zero();
    std::size_t j = visible.begin;
    for (; j + Chains <= visible.end; j += Chains)
        CTATTN_UNROLL for (std::size_t c = 0; c < Chains; ++c) {
            const typename V::vec pj = V::broadcast(p[j + c]);
            CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n)
                acc[c][n] = V::fma(pj, V::load(v + (j + c) * VStride + n * W), acc[c][n]);
        }
    for (; j < visible.end; ++j) {
        const typename V::vec pj = V::broadcast(p[j]);
        CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n) acc[0][n] = V::fma(pj, V::load(v + j * VStride + n * W), acc[0][n]);
    }
    CTATTN_UNROLL for (std::size_t c = 1; c < Chains; ++c)
        CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n) acc[0][n] = acc[0][n] + acc[c][n];
    CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n) V::store(out + n * W, acc[0][n]);
}
}  // namespace detail

// p: weights (indexed by key position); v: value rows of HeadDim, row stride VStride;
// out: HeadDim floats. Keys outside `visible` do not contribute.
template <std::size_t HeadDim, class Arch = simd::default_arch, std::size_t VStride = HeadDim>
inline void aggregate_row(const float* p, const float* v, key_range visible, float* out) noexcept {
    constexpr std::size_t W = simd::ops<Arch>::width;
    constexpr std::size_t block = 4 * W;
    // Loop bounds are constants so dead loops vanish at compile time (GCC 12 otherwise reports a
    // false -Waggressive-loop-optimizations error on them, e.g. HeadDim 40 on the scalar path).
    constexpr std::size_t blocks_end = HeadDim / block * block;
    constexpr std::size_t vectors_end = blocks_end + (HeadDim - blocks_end) / W * W;
    for (std::size_t d = 0; d < blocks_end; d += block)
        detail::aggregate_block<Arch, 4, VStride>(p, v + d, visible, out + d);
    for (std::size_t d = blocks_end; d < vectors_end; d += W)
        detail::aggregate_block<Arch, 1, VStride>(p, v + d, visible, out + d);
    // Columns narrower than a vector on the next narrower arch (head_dim 8 under AVX-512: one AVX2
    // vector, not 8 scalar columns; 13 = 8 + 4 + 1).
    if constexpr (vectors_end < HeadDim)
        aggregate_row<HeadDim - vectors_end, decltype(simd::narrower_arch_of<Arch>()), VStride>(
            p, v + vectors_end, visible, out + vectors_end);
}

// O = P V for a block of Rows query rows of one head over the keys [begin, end), all rows alike
// (a row's weights outside its own visible run must be 0, and its values finite: the per-row
// overload below is the one that keeps masked keys out): p is Rows x keys
// (row stride PStride), v the value rows (stride VStride), out Rows x HeadDim (stride OStride).
// Column tiles as wide as the projection tile (Rows x tile_vecs accumulators fit the register
// file), then the leftover vectors, then scalar columns.
template <std::size_t HeadDim, std::size_t Rows, class Arch = simd::default_arch, std::size_t PStride,
          std::size_t VStride, std::size_t OStride>
inline void aggregate_rows(std::size_t begin, std::size_t end, const float* p, const float* v, float* out) noexcept {
    constexpr std::size_t W = simd::ops<Arch>::width;
    constexpr std::size_t tile_vecs = projection_tile_shape<Arch>::vecs;
    constexpr std::size_t block = tile_vecs * W;
    constexpr std::size_t blocks_end = HeadDim / block * block;
    constexpr std::size_t vectors_end = blocks_end + (HeadDim - blocks_end) / W * W;
    for (std::size_t d = 0; d < blocks_end; d += block)
        detail::multiply_tile<Arch, Rows, tile_vecs, PStride, VStride, OStride>(begin, end, p, v + d, nullptr, out + d);
    if constexpr (vectors_end > blocks_end)
        detail::multiply_tile<Arch, Rows, (vectors_end - blocks_end) / W, PStride, VStride, OStride>(
            begin, end, p, v + blocks_end, nullptr, out + blocks_end);
    if constexpr (vectors_end < HeadDim)  // narrower columns on the next narrower arch, as aggregate_row
        aggregate_rows<HeadDim - vectors_end, Rows, decltype(simd::narrower_arch_of<Arch>()), PStride, VStride,
                       OStride>(begin, end, p, v + vectors_end, out + vectors_end);
}

namespace detail {
// The P V register tile with a visible run per row: y[m][0 .. TileVecs*W) = sum over the keys k
// in visible[m], in key order, of p[m][k] * v[k][...]. Keys every row sees ([common_begin,
// common_end)) run as multiply_tile's loop; the keys only some rows see (a causal block's
// diagonal, a sliding window's trailing edge) test each row's run, so a masked key is skipped,
// never multiplied by 0, and the accumulators stay in registers throughout.
template <class Arch, std::size_t TileRows, std::size_t TileVecs, std::size_t PStride, std::size_t VStride,
          std::size_t OStride>
inline void aggregate_tile(const key_range* visible, key_range any, key_range common, const float* p, const float* v,
                           float* out) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    typename V::vec acc[TileRows][TileVecs];
    CTATTN_UNROLL for (std::size_t m = 0; m < TileRows; ++m)
        CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) acc[m][n] = V::zero();
    // Which rows see key k: before the common run, those whose run begins by k; after it, those
    // whose run ends past k; with no common run, both tests.
    enum class side { before, after, anywhere };
    auto edge_key = [&](std::size_t k, auto where) {
        typename V::vec v_row[TileVecs];
        CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) v_row[n] = V::load(v + k * VStride + n * W);
        CTATTN_UNROLL for (std::size_t m = 0; m < TileRows; ++m) {
            constexpr side at = decltype(where)::value;
            if (at != side::after && k < visible[m].begin) continue;
            if (at != side::before && k >= visible[m].end) continue;
            const typename V::vec pb = V::broadcast(p[m * PStride + k]);
            CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) acc[m][n] = V::fma(pb, v_row[n], acc[m][n]);
        }
    };
    if (common.empty()) {
        for (std::size_t k = any.begin; k < any.end; ++k) edge_key(k, std::integral_constant<side, side::anywhere>{});
    } else {
        for (std::size_t k = any.begin; k < common.begin; ++k) edge_key(k, std::integral_constant<side, side::before>{});
        for (std::size_t k = common.begin; k < common.end; ++k) {
            typename V::vec v_row[TileVecs];
            CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) v_row[n] = V::load(v + k * VStride + n * W);
            CTATTN_UNROLL for (std::size_t m = 0; m < TileRows; ++m) {
                const typename V::vec pb = V::broadcast(p[m * PStride + k]);
                CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) acc[m][n] = V::fma(pb, v_row[n], acc[m][n]);
            }
        }
        for (std::size_t k = common.end; k < any.end; ++k) edge_key(k, std::integral_constant<side, side::after>{});
    }
    CTATTN_UNROLL for (std::size_t m = 0; m < TileRows; ++m)
        CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) V::store(out + m * OStride + n * W, acc[m][n]);
}
}  // namespace detail

// O = P V for a block of Rows query rows where row r sees only the keys visible[r]: a masked key
// is skipped, never multiplied by 0 (0 * NaN is NaN, 0 * inf too: a NaN or inf in a value row
// that a query must not see would otherwise reach its output). p is Rows x keys (row stride
// PStride), v the value rows (stride VStride), out Rows x HeadDim (stride OStride). The same
// column tiles as the overload above; within a tile, the keys all rows see run unconditionally
// and the few that only some rows see (detail::aggregate_tile) test each row's run.
template <std::size_t HeadDim, std::size_t Rows, class Arch = simd::default_arch, std::size_t PStride,
          std::size_t VStride, std::size_t OStride>
inline void aggregate_rows(const key_range* visible, const float* p, const float* v, float* out) noexcept {
    key_range any{~std::size_t(0), 0}, common{0, ~std::size_t(0)};  // union's hull and intersection of the runs
    for (std::size_t r = 0; r < Rows; ++r) {
        if (!visible[r].empty()) {
            any.begin = visible[r].begin < any.begin ? visible[r].begin : any.begin;
            any.end = visible[r].end > any.end ? visible[r].end : any.end;
        }
        common.begin = visible[r].begin > common.begin ? visible[r].begin : common.begin;
        common.end = visible[r].end < common.end ? visible[r].end : common.end;
    }
    if (any.empty()) any = {0, 0};
    if (common.empty()) common = {0, 0};  // nothing all rows see: every key is an edge key
    constexpr std::size_t W = simd::ops<Arch>::width;
    constexpr std::size_t tile_vecs = projection_tile_shape<Arch>::vecs;
    constexpr std::size_t block = tile_vecs * W;
    constexpr std::size_t blocks_end = HeadDim / block * block;
    constexpr std::size_t vectors_end = blocks_end + (HeadDim - blocks_end) / W * W;
    for (std::size_t d = 0; d < blocks_end; d += block)
        detail::aggregate_tile<Arch, Rows, tile_vecs, PStride, VStride, OStride>(visible, any, common, p, v + d, out + d);
    if constexpr (vectors_end > blocks_end)
        detail::aggregate_tile<Arch, Rows, (vectors_end - blocks_end) / W, PStride, VStride, OStride>(
            visible, any, common, p, v + blocks_end, out + blocks_end);
    if constexpr (vectors_end < HeadDim)  // narrower columns on the next narrower arch, as aggregate_row
        aggregate_rows<HeadDim - vectors_end, Rows, decltype(simd::narrower_arch_of<Arch>()), PStride, VStride,
                       OStride>(visible, p, v + vectors_end, out + vectors_end);
}

// O = P V for one head: n_queries rows of weights (row stride p_stride, masked entries 0) against
// n_keys value rows; out rows have stride OStride.
template <std::size_t HeadDim, class Arch = simd::default_arch, std::size_t VStride = HeadDim,
          std::size_t OStride = HeadDim>
inline void aggregate(std::size_t n_queries, const float* p, std::size_t p_stride, std::size_t n_keys,
                      const float* v, float* out) noexcept {
    for (std::size_t i = 0; i < n_queries; ++i)
        aggregate_row<HeadDim, Arch, VStride>(p + i * p_stride, v, key_range{0, n_keys}, out + i * OStride);
}

}  // namespace ctattn::kernels
