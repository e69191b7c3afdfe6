// Projection: Y[rows x Dout] = X[rows x Din] . W[Din x Dout] (+ b), the `x @ W` convention.
// Register-blocked: a tile of `tile_rows` rows by `tile_vecs` vectors of columns lives in
// registers while k runs over Din; each step broadcasts one x and reuses each loaded W vector for
// every row of the tile. Column tails narrower than a vector run the same tile on the scalar path.
#pragma once

#include <cstddef>

#include "../simd.hpp"

namespace ctattn::kernels {

template <class Arch>
struct projection_tile_shape {
    // Accumulators = rows * vecs, leaving room for the W vectors and one broadcast.
    static constexpr std::size_t rows = 4;
    static constexpr std::size_t vecs = simd::ops<Arch>::registers >= 32 ? 4 : 2;
};

namespace detail {

template <class Arch, std::size_t TileRows, std::size_t TileVecs, std::size_t Din, std::size_t XStride,
          std::size_t WStride, std::size_t YStride>
inline void projection_tile(const float* x, const float* w, const float* bias, float* y) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    typename V::vec acc[TileRows][TileVecs];
    for (std::size_t n = 0; n < TileVecs; ++n) {
        const typename V::vec init = bias ? V::load(bias + n * W) : V::zero();
        for (std::size_t m = 0; m < TileRows; ++m) acc[m][n] = init;
    }
    for (std::size_t k = 0; k < Din; ++k) {
        typename V::vec w_row[TileVecs];
        for (std::size_t n = 0; n < TileVecs; ++n) w_row[n] = V::load(w + k * WStride + n * W);
        for (std::size_t m = 0; m < TileRows; ++m) {
            const typename V::vec xb = V::broadcast(x[m * XStride + k]);
            for (std::size_t n = 0; n < TileVecs; ++n) acc[m][n] = V::fma(xb, w_row[n], acc[m][n]);
        }
    }
    for (std::size_t m = 0; m < TileRows; ++m)
        for (std::size_t n = 0; n < TileVecs; ++n) V::store(y + m * YStride + n * W, acc[m][n]);
}

// All Dout columns for TileRows rows: wide tiles, then single vectors, then scalar columns.
template <class Arch, std::size_t TileRows, std::size_t Din, std::size_t Dout, std::size_t XStride,
          std::size_t YStride>
inline void projection_rows(const float* x, const float* w, const float* bias, float* y) noexcept {
    constexpr std::size_t W = simd::ops<Arch>::width;
    constexpr std::size_t wide = projection_tile_shape<Arch>::vecs * W;
    std::size_t c = 0;
    if constexpr (W > 1 || wide > 1) {
        for (; c + wide <= Dout; c += wide)
            projection_tile<Arch, TileRows, projection_tile_shape<Arch>::vecs, Din, XStride, Dout, YStride>(
                x, w + c, bias ? bias + c : nullptr, y + c);
        for (; c + W <= Dout; c += W)
            projection_tile<Arch, TileRows, 1, Din, XStride, Dout, YStride>(x, w + c, bias ? bias + c : nullptr, y + c);
    }
    // The vector loops end at Dout / W * W; starting the tail from that constant (not from `c`)
    // lets GCC see the tail's trip count (it otherwise warns of a wrapping loop for e.g. Dout 88).
    for (std::size_t t = Dout / W * W; t < Dout; ++t)
        projection_tile<simd::scalar_arch, TileRows, 1, Din, XStride, Dout, YStride>(x, w + t, bias ? bias + t : nullptr,
                                                                                    y + t);
}

}  // namespace detail

// rows:  how many rows of X to project (run-time: the tokens present).
// x:     rows x Din, row stride XStride.   w: Din x Dout, dense.   bias: Dout or nullptr.
// y:     rows x Dout, row stride YStride. y must not overlap x.
template <std::size_t Din, std::size_t Dout, class Arch = simd::default_arch, std::size_t XStride = Din,
          std::size_t YStride = Dout>
inline void project(std::size_t rows, const float* x, const float* w, const float* bias, float* y) noexcept {
    static_assert(Din > 0 && Dout > 0, "ctattn: projection extents must be at least 1");
    static_assert(XStride >= Din && YStride >= Dout, "ctattn: a row stride must cover the row");
    constexpr std::size_t tile_rows = projection_tile_shape<Arch>::rows;
    // Both loops count up to a bound computed once: when rows is a constant multiple of tile_rows
    // GCC 12 otherwise reports a false -Waggressive-loop-optimizations error on the dead tail loop.
    const std::size_t tiled_rows = rows / tile_rows * tile_rows;
    for (std::size_t r = 0; r < tiled_rows; r += tile_rows)
        detail::projection_rows<Arch, tile_rows, Din, Dout, XStride, YStride>(x + r * XStride, w, bias, y + r * YStride);
    for (std::size_t r = tiled_rows; r < rows; ++r)
        detail::projection_rows<Arch, 1, Din, Dout, XStride, YStride>(x + r * XStride, w, bias, y + r * YStride);
}

}  // namespace ctattn::kernels
