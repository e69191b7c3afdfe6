// Value aggregation: out[d] = sum_j p[j] * v_j[d] over the visible keys, the attention-weighted
// mix of value rows. SIMD runs along head_dim (contiguous in V): each weight is broadcast once and
// multiplied into up to four vectors of the output held in registers.
#pragma once

#include <cstddef>

#include "../simd.hpp"
#include "mask.hpp"

namespace ctattn::kernels {

namespace detail {
template <class Arch, std::size_t Vecs, std::size_t VStride>
inline void aggregate_block(const float* p, const float* v, key_range visible, float* out) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    typename V::vec acc[Vecs];
    for (std::size_t n = 0; n < Vecs; ++n) acc[n] = V::zero();
    for (std::size_t j = visible.begin; j < visible.end; ++j) {
        const typename V::vec pj = V::broadcast(p[j]);
        for (std::size_t n = 0; n < Vecs; ++n) acc[n] = V::fma(pj, V::load(v + j * VStride + n * W), acc[n]);
    }
    for (std::size_t n = 0; n < Vecs; ++n) V::store(out + n * W, acc[n]);
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
