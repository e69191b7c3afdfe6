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
    // Scalar path: 4 x 2, sized for Cortex-M's 16 single-precision registers.
    static constexpr std::size_t rows = is_vector ? 6 : 4;
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

#if defined(CTATTN_HAS_XSIMD) && defined(__AVX512F__)
// One row (decode) on AVX-512 when Dout is not a multiple of 16: every column in one pass over k,
// the last vector loaded with a mask (its lanes past Dout read nothing), instead of the whole-vector
// panel plus narrower tiles for the leftover columns, each of which streams W's rows again
// (stories260K's 64 x 172 FFN matrices: 10 vectors and a 12-lane one). Same sums, same order as
// the tiles: bit-identical outputs.
template <std::size_t Din, std::size_t Dout, std::size_t WStride>
inline void project_row_masked(const float* x, const float* w, const float* bias, float* y) noexcept {
    constexpr std::size_t vecs = Dout / 16;
    constexpr __mmask16 last = __mmask16((1u << (Dout % 16)) - 1u);
    __m512 acc[vecs + 1];
    CTATTN_UNROLL for (std::size_t n = 0; n < vecs; ++n) acc[n] = bias ? _mm512_loadu_ps(bias + 16 * n) : _mm512_setzero_ps();
    acc[vecs] = bias ? _mm512_maskz_loadu_ps(last, bias + 16 * vecs) : _mm512_setzero_ps();
    for (std::size_t k = 0; k < Din; ++k) {
        const __m512 xb = _mm512_set1_ps(x[k]);
        const float* row = w + k * WStride;
        CTATTN_UNROLL for (std::size_t n = 0; n < vecs; ++n) acc[n] = _mm512_fmadd_ps(xb, _mm512_loadu_ps(row + 16 * n), acc[n]);
        acc[vecs] = _mm512_fmadd_ps(xb, _mm512_maskz_loadu_ps(last, row + 16 * vecs), acc[vecs]);
    }
    CTATTN_UNROLL for (std::size_t n = 0; n < vecs; ++n) _mm512_storeu_ps(y + 16 * n, acc[n]);
    _mm512_mask_storeu_ps(y + 16 * vecs, last, acc[vecs]);
}
#endif

}  // namespace detail

// Cortex-M with a single-precision FPU of 32 registers (FPv4-SP-D16: M4F; FPv5-D16: M7; M55):
// one token's projection in 16-column strips, written in assembly because the loads are what
// counts there. Each step of k loads the strip's 16 weights of row k (contiguous in row-major W)
// with two VLDMs of 8 registers, which is 2 instructions where C gets 16 VLDRs from the compiler,
// and the 16 accumulators stay in s16-s31 throughout: per two steps of k, 1 load of x, 4 VLDMs,
// 32 VFMAs and 4 pointer/loop instructions, ~1.28 instructions per multiply-add (the C tile
// needs ~2.5). Each output is still bias (or 0) + the sum over k in order of fma(x[k], w[k][c]),
// so results are bit-identical to the C tile's.
#if defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) && defined(__ARM_FEATURE_FMA) && \
    !defined(__ARM_ARCH_ISA_A64) && (defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
                                      defined(__ARM_ARCH_8_1M_MAIN__))
#define CTATTN_VFP_ROW_PROJECTION 1
#define CTATTN_VFP_FMA8(x)                                                                                   \
    "vfma.f32 s16, " x ", s1\n vfma.f32 s17, " x ", s2\n vfma.f32 s18, " x ", s3\n vfma.f32 s19, " x ", s4\n" \
    "vfma.f32 s20, " x ", s5\n vfma.f32 s21, " x ", s6\n vfma.f32 s22, " x ", s7\n vfma.f32 s23, " x ", s8\n"
#define CTATTN_VFP_FMA8_HIGH(x)                                                                              \
    "vfma.f32 s24, " x ", s1\n vfma.f32 s25, " x ", s2\n vfma.f32 s26, " x ", s3\n vfma.f32 s27, " x ", s4\n" \
    "vfma.f32 s28, " x ", s5\n vfma.f32 s29, " x ", s6\n vfma.f32 s30, " x ", s7\n vfma.f32 s31, " x ", s8\n"
// One step of k with x[k] in register X: weights of row k, 16 fmas, w to row k + 1.
#define CTATTN_VFP_STEP(X)                                       \
    "vldmia %[w]!, {s1-s8}\n" CTATTN_VFP_FMA8(X)                 \
    "vldmia %[w], {s1-s8}\n" CTATTN_VFP_FMA8_HIGH(X)             \
    "add %[w], %[w], %[row_step]\n"

namespace detail {
// y[0..16) = init[0..16) + sum over k < din of x[k] * w[k * w_stride + 0..16), w_stride in floats;
// init is the bias, or zeros. din >= 1.
inline void vfp_row_strip16(const float* x, const float* w, std::size_t w_stride, std::size_t din, const float* init,
                            float* y) noexcept {
    const std::size_t row_step = w_stride * sizeof(float) - 32;  // after the first VLDM's write-back
    std::size_t pairs = din / 2;
    asm volatile(
        "vldmia %[init], {s16-s31}\n"
        "tst %[din], #1\n"
        "beq 1f\n"
        "vldmia %[x]!, {s9}\n" CTATTN_VFP_STEP("s9")
        "1:\n"
        "cmp %[pairs], #0\n"
        "beq 3f\n"
        "2:\n"
        "vldmia %[x]!, {s9-s10}\n" CTATTN_VFP_STEP("s9") CTATTN_VFP_STEP("s10")
        "subs %[pairs], %[pairs], #1\n"
        "bne 2b\n"
        "3:\n"
        "vstmia %[y], {s16-s31}\n"
        : [x] "+r"(x), [w] "+r"(w), [pairs] "+r"(pairs)
        : [init] "r"(init), [din] "r"(din), [row_step] "r"(row_step), [y] "r"(y)
        : "cc", "memory", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s16", "s17", "s18", "s19",
          "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
}

// One row: the 16-column strips in assembly, the leftover columns by the C tiles.
template <std::size_t Din, std::size_t Cols, std::size_t WStride>
inline void vfp_project_row(const float* x, const float* w, const float* bias, float* y) noexcept {
    constexpr std::size_t strips_end = Cols / 16 * 16;
    alignas(8) static constexpr float zeros[16] = {};
    for (std::size_t c = 0; c < strips_end; c += 16)
        vfp_row_strip16(x, w + c, WStride, Din, bias ? bias + c : zeros, y + c);
    if constexpr (strips_end < Cols)
        projection_row_blocks<simd::scalar_arch, 1, Din, Cols - strips_end, WStride, Din, Cols>(
            1, x, w + strips_end, bias ? bias + strips_end : nullptr, y + strips_end);
}
}  // namespace detail
#undef CTATTN_VFP_STEP
#undef CTATTN_VFP_FMA8_HIGH
#undef CTATTN_VFP_FMA8
#endif

// rows:  how many rows of X to project (run-time: the tokens present).
// x:     rows x Din, row stride XStride.   w: Din x Dout, dense.   bias: Dout or nullptr.
// y:     rows x Dout, row stride YStride. y must not overlap x.
// Each output is bias + sum over k in order 0..Din-1 of x[k] * w[k][c], whatever the tile.
template <std::size_t Din, std::size_t Dout, class Arch = simd::default_arch, std::size_t XStride = Din,
          std::size_t YStride = Dout>
inline void project(std::size_t rows, const float* x, const float* w, const float* bias, float* y) noexcept {
    static_assert(Din > 0 && Dout > 0, "ctattn: projection extents must be at least 1");
    static_assert(XStride >= Din && YStride >= Dout, "ctattn: a row stride must cover the row");
#if defined(CTATTN_VFP_ROW_PROJECTION)
    if constexpr (std::is_same_v<Arch, simd::scalar_arch> && Dout >= 16) {
        if (rows == 1) {  // one token (decode): 16-column strips in registers
            detail::vfp_project_row<Din, Dout, Dout>(x, w, bias, y);
            return;
        }
    }
#endif
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX512F__)
    if constexpr (simd::ops<Arch>::width == 16 && Dout % 16 != 0 && Dout / 16 < 16) {
        if (rows == 1) {
            detail::project_row_masked<Din, Dout, Dout>(x, w, bias, y);
            return;
        }
    }
#endif
    for_row_blocks<projection_tile_shape<Arch>::rows>(rows, [&](auto block_rows, std::size_t first, std::size_t n) {
        detail::projection_row_blocks<Arch, decltype(block_rows)::value, Din, Dout, Dout, XStride, YStride>(
            n, x + first * XStride, w, bias, y + first * YStride);
    });
}

}  // namespace ctattn::kernels
