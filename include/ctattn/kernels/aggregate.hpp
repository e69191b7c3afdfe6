// Value aggregation: out[d] = sum_j p[j] * v_j[d] over the visible keys, the attention-weighted
// mix of value rows. SIMD runs along head_dim (contiguous in V): each weight is broadcast once and
// multiplied into up to four vectors of the output held in registers, with consecutive keys in
// separate partial sums so the FMAs do not wait on each other.
#pragma once

#include <cstddef>

#include "../simd.hpp"
#include "mask.hpp"
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
    for (std::size_t d = vectors_end; d < HeadDim; ++d)
        detail::aggregate_block<simd::scalar_arch, 1, VStride>(p, v + d, visible, out + d);
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
    for (std::size_t d = vectors_end; d < HeadDim; ++d)
        detail::multiply_tile<simd::scalar_arch, Rows, 1, PStride, VStride, OStride>(begin, end, p, v + d, nullptr,
                                                                                    out + d);
}

namespace detail {
// out[d] += sum_j p[j] * v_j[d] over keys [begin, end), in key order, for the HeadDim columns of
// one output row: the keys of a query block that some rows see and others do not.
template <std::size_t HeadDim, class Arch, std::size_t VStride>
inline void accumulate_keys(const float* p, const float* v, std::size_t begin, std::size_t end, float* out) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t vectors_end = HeadDim / W * W;
    for (std::size_t d = 0; d < vectors_end; d += W) {
        typename V::vec acc = V::load(out + d);
        for (std::size_t j = begin; j < end; ++j) acc = V::fma(V::broadcast(p[j]), V::load(v + j * VStride + d), acc);
        V::store(out + d, acc);
    }
    for (std::size_t d = vectors_end; d < HeadDim; ++d) {
        float acc = out[d];
        for (std::size_t j = begin; j < end; ++j) acc = simd::ops<simd::scalar_arch>::fma(p[j], v[j * VStride + d], acc);
        out[d] = acc;
    }
}
}  // namespace detail

// O = P V for a block of Rows query rows where row r sees only the keys visible[r]: a masked key
// is skipped, never multiplied by 0 (0 * NaN is NaN, 0 * inf too: a NaN or inf in a value row
// that a query must not see would otherwise reach its output). The keys every row sees go through
// the register tile above; the few that only some rows see (the diagonal of a causal block, the
// trailing edge of a sliding window) are added row by row. p is Rows x keys (row stride PStride).
template <std::size_t HeadDim, std::size_t Rows, class Arch = simd::default_arch, std::size_t PStride,
          std::size_t VStride, std::size_t OStride>
inline void aggregate_rows(const key_range* visible, const float* p, const float* v, float* out) noexcept {
    std::size_t common_begin = 0, common_end = ~std::size_t(0);
    for (std::size_t r = 0; r < Rows; ++r) {
        common_begin = visible[r].begin > common_begin ? visible[r].begin : common_begin;
        common_end = visible[r].end < common_end ? visible[r].end : common_end;
    }
    if (common_end < common_begin) common_end = common_begin;  // no key common to all rows
    aggregate_rows<HeadDim, Rows, Arch, PStride, VStride, OStride>(common_begin, common_end, p, v, out);
    for (std::size_t r = 0; r < Rows; ++r) {
        if (visible[r].empty()) continue;
        const key_range run = visible[r];
        // run minus [common_begin, common_end): the keys before the common run and those after
        // (when nothing is common, the split at common_begin still covers the run once).
        const std::size_t before_end = common_begin < run.end ? common_begin : run.end;
        const std::size_t after_begin = common_end > run.begin ? common_end : run.begin;
        float* out_row = out + r * OStride;
        if (run.begin < before_end)
            detail::accumulate_keys<HeadDim, Arch, VStride>(p + r * PStride, v, run.begin, before_end, out_row);
        if (after_begin < run.end)
            detail::accumulate_keys<HeadDim, Arch, VStride>(p + r * PStride, v, after_begin, run.end, out_row);
    }
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
