// SPDX-License-Identifier: Apache-2.0
// Projection: Y[rows x Dout] = X[rows x Din] . W[Din x Dout] (+ b), the `x @ W` convention.
// Register-blocked: a tile of `rows` rows by `vecs` vectors of columns lives in registers while k
// runs over Din; each step broadcasts one x per row and reuses each loaded W vector for every row
// of the tile. The tile is chosen at compile time from the register file and the row count, and
// the column panel is the outer loop so a panel of W stays in L1 while every row block uses it.
#pragma once

#include <cstddef>
#include <type_traits>

#include "../simd/ops.hpp"
#include "../simd/arm_vfp.hpp"
#include "../simd/x86.hpp"
#include "../simd/mve.hpp"
#include "row_dispatch.hpp"

namespace ctattn::kernels {

template <class Arch>
struct projection_tile_shape {
    static constexpr std::size_t registers = simd::ops<Arch>::registers;
    static constexpr bool is_vector = simd::ops<Arch>::width > 1;
    // Row block of the main tile. Vector paths: rows * vecs accumulators + vecs W vectors + one
    // broadcast must fit the register file, and FMA latency x FMA ports (4 x 2 on current x86 and
    // big ARM cores) independent accumulators are needed to keep the FMA ports busy: 6 x 2 = 12
    // with 16 registers (AVX2, NEON's 32 would allow more but 6 x 4 needs 29), 6 x 4 = 24 with 32.
    // Scalar path: 4 x 2, sized for Cortex-M's 16 single-precision registers. Helium's 8 q
    // registers: 2 x 2 (4 accumulators, 2 W vectors, a broadcast; 6 x 2 would spill 6 of its 12).
    static constexpr std::size_t rows = is_vector ? (registers >= 16 ? 6 : 2) : 4;
    static constexpr std::size_t vecs = registers >= 32 ? 4 : 2;

    // Vectors per tile for a block of `tile_rows` rows (a remainder block, or one row in decode).
    // One row: the W operand of each FMA comes straight from memory, so half the register file can
    // be accumulators. Otherwise the widest tile whose accumulators, W vectors and broadcast fit.
    static constexpr std::size_t vecs_for_rows(std::size_t tile_rows) noexcept {
        if (tile_rows == rows) return vecs;
        const std::size_t fit = tile_rows == 1 ? registers / 2 : (registers - 2) / (tile_rows + 1);
        return fit > 0 ? fit : 1;
    }
};

namespace detail {

// The register tile every GEMM-shaped kernel runs: y[m][0 .. TileVecs*W) = bias + the sum over
// k in [k_begin, k_end), in order, of x[m][k] * w[k][...], for TileRows rows at once (rows of x
// have stride XStride, rows of w WStride, rows of y YStride). Projections run k over all of Din;
// P V (aggregate_rows) runs it over the keys a query block sees, with P as x and V as w. The
// bounds are std::size_t or std::integral_constant: a projection's are constants, so the
// instantiation it calls (out of line at -Os) still has a compile-time trip count.
template <class Arch, std::size_t TileRows, std::size_t TileVecs, std::size_t XStride, std::size_t WStride,
          std::size_t YStride, class KBegin, class KEnd>
inline void multiply_tile(KBegin k_begin, KEnd k_end, const float* x, const float* w, const float* bias,
                          float* y) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    typename V::vec acc[TileRows][TileVecs];
    CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) {
        const typename V::vec init = bias ? V::load(bias + n * W) : V::zero();
        CTATTN_UNROLL for (std::size_t m = 0; m < TileRows; ++m) acc[m][n] = init;
    }
    for (std::size_t k = std::size_t(k_begin); k < std::size_t(k_end); ++k) {
        typename V::vec w_row[TileVecs];
        CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) w_row[n] = V::load(w + k * WStride + n * W);
        CTATTN_UNROLL for (std::size_t m = 0; m < TileRows; ++m) {
            const typename V::vec xb = V::broadcast(x[m * XStride + k]);
            CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) acc[m][n] = V::fma(xb, w_row[n], acc[m][n]);
        }
    }
    CTATTN_UNROLL for (std::size_t m = 0; m < TileRows; ++m)
        CTATTN_UNROLL for (std::size_t n = 0; n < TileVecs; ++n) V::store(y + m * YStride + n * W, acc[m][n]);
}

template <class Arch, std::size_t TileRows, std::size_t TileVecs, std::size_t Din, std::size_t XStride,
          std::size_t WStride, std::size_t YStride>
inline void projection_tile(const float* x, const float* w, const float* bias, float* y) noexcept {
    multiply_tile<Arch, TileRows, TileVecs, XStride, WStride, YStride>(
        std::integral_constant<std::size_t, 0>{}, std::integral_constant<std::size_t, Din>{}, x, w, bias, y);
}

// n_rows (a multiple of TileRows) rows, columns [0, Cols) of W (row stride WStride): panels of the
// widest tile, then one tile of the leftover whole vectors, then the columns narrower than a
// vector on the next narrower arch (AVX-512 -> AVX2 -> SSE -> scalar: stories260K's 172 hidden
// columns are 10 x 16 + 8 + 4, not 12 scalar tiles). Every bound is a constant, so the leftover
// tiles are chosen at compile time and loops that cannot run are not emitted.
template <class Arch, std::size_t TileRows, std::size_t Din, std::size_t Cols, std::size_t WStride,
          std::size_t XStride, std::size_t YStride>
inline void projection_row_blocks(std::size_t n_rows, const float* x, const float* w, const float* bias,
                                  float* y) noexcept {
    constexpr std::size_t W = simd::ops<Arch>::width;
    constexpr std::size_t wanted_vecs = projection_tile_shape<Arch>::vecs_for_rows(TileRows);
    constexpr std::size_t row_vecs = Cols / W;
    constexpr std::size_t vecs = wanted_vecs < row_vecs ? wanted_vecs : (row_vecs > 0 ? row_vecs : 1);
    constexpr std::size_t panel = vecs * W;
    constexpr std::size_t panels_end = Cols / panel * panel;
    constexpr std::size_t leftover_vecs = (Cols - panels_end) / W;
    constexpr std::size_t vectors_end = panels_end + leftover_vecs * W;

    for (std::size_t c = 0; c < panels_end; c += panel)
        for (std::size_t r = 0; r < n_rows; r += TileRows)
            projection_tile<Arch, TileRows, vecs, Din, XStride, WStride, YStride>(
                x + r * XStride, w + c, bias ? bias + c : nullptr, y + r * YStride + c);
    if constexpr (leftover_vecs > 0)
        for (std::size_t r = 0; r < n_rows; r += TileRows)
            projection_tile<Arch, TileRows, leftover_vecs, Din, XStride, WStride, YStride>(
                x + r * XStride, w + panels_end, bias ? bias + panels_end : nullptr, y + r * YStride + panels_end);
    if constexpr (vectors_end < Cols)
        projection_row_blocks<decltype(simd::narrower_arch_of<Arch>()), TileRows, Din, Cols - vectors_end, WStride,
                              XStride, YStride>(n_rows, x, w + vectors_end, bias ? bias + vectors_end : nullptr,
                                                y + vectors_end);
}


// One row (decode) on Cortex-M with a single-precision FPU of 32 registers (simd/arm_vfp.hpp): the
// 16-column strips in assembly (weights loaded by VLDM, 16 accumulators in s16-s31, ~1.28
// instructions per multiply-add where the C tile needs ~2.5), the leftover columns by the C tiles.
// Each output is still bias (or 0) + the sum over k in order of fma(x[k], w[k][c]).
template <std::size_t Din, std::size_t Cols, std::size_t WStride>
inline void vfp_project_row(const float* x, const float* w, const float* bias, float* y) noexcept {
    constexpr std::size_t strips_end = Cols / 16 * 16;
    alignas(8) static constexpr float zeros[16] = {};
    for (std::size_t c = 0; c < strips_end; c += 16)
        simd::arm_vfp::row_strip16(x, w + c, WStride, Din, bias ? bias + c : zeros, y + c);
    if constexpr (strips_end < Cols)
        projection_row_blocks<simd::scalar_arch, 1, Din, Cols - strips_end, WStride, Din, Cols>(
            1, x, w + strips_end, bias ? bias + strips_end : nullptr, y + strips_end);
}
}  // namespace detail

// rows:  how many rows of X to project (run-time: the tokens present).
// x:     rows x Din, row stride XStride.   w: Din x Dout, dense.   bias: Dout or nullptr.
// y:     rows x Dout, row stride YStride. y must not overlap x.
// Each output is bias + sum over k in order 0..Din-1 of x[k] * w[k][c], whatever the tile.
template <std::size_t Din, std::size_t Dout, class Arch = simd::default_arch, std::size_t XStride = Din,
          std::size_t YStride = Dout>
inline void project(std::size_t rows, const float* x, const float* w, const float* bias, float* y) noexcept {
    static_assert(Din > 0 && Dout > 0, "ctattn: projection extents must be at least 1");
    static_assert(XStride >= Din && YStride >= Dout, "ctattn: a row stride must cover the row");
    // One token (decode): Cortex-M VFP 16-column strips in registers; Helium strips of 24 columns
    // (simd/mve.hpp); AVX-512 with a masked last vector.
    if constexpr (simd::target::vfp_asm && std::is_same_v<Arch, simd::scalar_arch> && Dout >= 16) {
        if (rows == 1) {
            detail::vfp_project_row<Din, Dout, Dout>(x, w, bias, y);
            return;
        }
    }
    if constexpr (simd::target::mve_float && std::is_same_v<Arch, simd::mve_arch>) {
        if (rows == 1) {
            simd::mve::project_row<Din, Dout, Dout>(x, w, bias, y);
            return;
        }
    }
    if constexpr (simd::target::avx512f && simd::ops<Arch>::width == 16 && Dout % 16 != 0 && Dout / 16 < 16) {
        if (rows == 1) {
            simd::x86::project_row_masked<Din, Dout, Dout>(x, w, bias, y);
            return;
        }
    }
    for_row_blocks<projection_tile_shape<Arch>::rows>(rows, [&](auto block_rows, std::size_t first, std::size_t n) {
        detail::projection_row_blocks<Arch, decltype(block_rows)::value, Din, Dout, Dout, XStride, YStride>(
            n, x + first * XStride, w, bias, y + first * YStride);
    });
}

}  // namespace ctattn::kernels
