// SPDX-License-Identifier: Apache-2.0
// Projection from weights pre-packed into column panels: Y = X . W (+ b), as kernels::project.
// In row-major W a tile's panel of P columns is Din short runs one W row (Dout floats) apart; at
// Dout = 256 or 512 those runs fall into a handful of L1 sets and are re-fetched from L2 for every
// row block. Packed once (at weight-load time), each panel is Din x P contiguous floats that the
// tile streams front to back. Every output is still bias + sum over k in order of x[k] * w[k][c],
// with the same tiles as the row-major kernel, so the two give bit-identical results.
#pragma once

#include <cstddef>

#include "../simd/ops.hpp"
#include "../base/storage.hpp"
#include "projection.hpp"
#include "row_dispatch.hpp"

namespace ctattn::kernels {

// W (Din x Dout) in panels for Arch's main projection tile: panel p holds columns
// [p * panel_width, (p + 1) * panel_width) as Din rows of panel_width floats; the leftover
// Dout % panel_width columns follow as one last panel of Din rows of leftover_width floats.
template <std::size_t Din, std::size_t Dout, class Arch = simd::default_arch>
struct packed_matrix {
    static_assert(Din > 0 && Dout > 0, "ctattn: a packed matrix needs at least one row and one column");
    using arch = Arch;
    static constexpr std::size_t rows = Din;
    static constexpr std::size_t cols = Dout;
    static constexpr std::size_t width = simd::ops<Arch>::width;
    static constexpr std::size_t panel_vecs = [] {
        constexpr std::size_t wanted = projection_tile_shape<Arch>::vecs, row_vecs = Dout / width;
        return wanted < row_vecs ? wanted : (row_vecs > 0 ? row_vecs : 1);
    }();
    static constexpr std::size_t panel_width = panel_vecs * width;       // (columns per panel)
    static constexpr std::size_t panels = Dout / panel_width;            // full panels
    static constexpr std::size_t leftover_width = Dout - panels * panel_width;
    static constexpr std::size_t size = Din * Dout;

    matrix<1, size> values;  // (panels, Din, panel_width) then (Din, leftover_width)

    const float* panel(std::size_t p) const noexcept { return values.data() + p * Din * panel_width; }
    const float* leftover() const noexcept { return values.data() + panels * Din * panel_width; }

    // Element W[k][c] of the row-major matrix this holds.
    float operator()(std::size_t k, std::size_t c) const noexcept {
        const std::size_t p = c / panel_width;
        return p < panels ? panel(p)[k * panel_width + c % panel_width]
                          : leftover()[k * leftover_width + (c - panels * panel_width)];
    }

    // From a row-major Din x Dout matrix (`dense` must not overlap this).
    void pack(const float* dense) noexcept {
        float* out = values.data();
        for (std::size_t p = 0; p < panels; ++p)
            for (std::size_t k = 0; k < Din; ++k)
                for (std::size_t c = 0; c < panel_width; ++c) *out++ = dense[k * Dout + p * panel_width + c];
        for (std::size_t k = 0; k < Din; ++k)
            for (std::size_t c = panels * panel_width; c < Dout; ++c) *out++ = dense[k * Dout + c];
    }
    void pack(const matrix<Din, Dout>& dense) noexcept { pack(dense.data()); }
};

namespace detail {

// n_rows (a multiple of TileRows) rows against every panel. The row block is the outer loop: its
// TileRows rows of X (a few KiB) stay in L1 while the contiguous panels stream through from L2.
template <class Arch, std::size_t TileRows, std::size_t Din, std::size_t Dout, std::size_t XStride, std::size_t YStride>
inline void packed_row_blocks(std::size_t n_rows, const float* x, const packed_matrix<Din, Dout, Arch>& w,
                              const float* bias, float* y) noexcept {
    using P = packed_matrix<Din, Dout, Arch>;
    constexpr std::size_t leftover_start = P::panels * P::panel_width;
    for (std::size_t r = 0; r < n_rows; r += TileRows) {
        const float* x_rows = x + r * XStride;
        float* y_rows = y + r * YStride;
        for (std::size_t p = 0; p < P::panels; ++p) {
            const std::size_t c = p * P::panel_width;
            projection_tile<Arch, TileRows, P::panel_vecs, Din, XStride, P::panel_width, YStride>(
                x_rows, w.panel(p), bias ? bias + c : nullptr, y_rows + c);
        }
        // The leftover panel is a dense Din x leftover_width matrix: whole vectors, then narrower arches.
        if constexpr (P::leftover_width > 0)
            projection_row_blocks<Arch, TileRows, Din, P::leftover_width, P::leftover_width, XStride, YStride>(
                TileRows, x_rows, w.leftover(), bias ? bias + leftover_start : nullptr, y_rows + leftover_start);
    }
}

}  // namespace detail

// As kernels::project, with W packed: rows of X (stride XStride) times W, into rows of Y (stride
// YStride). The arch is the packed matrix's: panels are laid out for that arch's tile.
template <std::size_t Din, std::size_t Dout, class Arch, std::size_t XStride = Din, std::size_t YStride = Dout>
inline void project(std::size_t rows, const float* x, const packed_matrix<Din, Dout, Arch>& w, const float* bias,
                    float* y) noexcept {
    static_assert(XStride >= Din && YStride >= Dout, "ctattn: a row stride must cover the row");
    for_row_blocks<projection_tile_shape<Arch>::rows>(rows, [&](auto block_rows, std::size_t first, std::size_t n) {
        detail::packed_row_blocks<Arch, decltype(block_rows)::value, Din, Dout, XStride, YStride>(
            n, x + first * XStride, w, bias, y + first * YStride);
    });
}

// The row-major matrix, for code written once over either layout.
template <std::size_t Din, std::size_t Dout, class Arch = simd::default_arch, std::size_t XStride = Din,
          std::size_t YStride = Dout>
inline void project(std::size_t rows, const float* x, const matrix<Din, Dout>& w, const float* bias, float* y) noexcept {
    project<Din, Dout, Arch, XStride, YStride>(rows, x, w.data(), bias, y);
}

}  // namespace ctattn::kernels
