// SPDX-License-Identifier: Apache-2.0
// Quantized (Q8, w8a8) projection: per row of X, the activations are quantized once per group of G
// (simd::q8_quantize), then every output is one group-scaled int8 row dot (simd::q8_row_dot):
//   y[o] = b[o] + sum_g (sw[o][g] * sx[g]) * sum_{i in g} qw[o][i] * qx[i]
// Weights are a q8_matrix or q8_matrix_view (base/weight_storage.hpp): Dout rows of Din codes, rows
// padded with zero codes to whole groups (the activations' padding is zero too, so it adds
// nothing). Also the row operations around it: quantizing a float row into a Q8 row (loaders) and
// dequantizing one (the embedding lookup). project_weights runs the float or the Q8 kernel by type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <tuple>

#include "../base/weight_storage.hpp"
#include "../simd/q8.hpp"
#include "projection.hpp"

namespace ctattn::kernels {

/// Quantizes Din floats into the Q8 codes and scales of one padded row (M::row_codes codes, zeros
/// past Din; M::groups scales): the same rounding as the activations' (simd::q8_quantize).
template <q8_projection_matrix M>
inline void q8_quantize_row(const float* x, std::int8_t* codes, float* scales) noexcept {
    constexpr std::size_t Din = M::in_features, G = M::group;
    constexpr std::size_t full_groups = Din / G, tail = Din - full_groups * G;
    if constexpr (full_groups > 0) simd::q8_quantize<G>(x, full_groups, codes, scales);
    if constexpr (tail > 0) {
        // The last group holds fewer than G inputs: zeros stand in for the rest (they change no
        // maximum and no sum), so the scale is the real inputs' own.
        float padded[G] = {};
        for (std::size_t i = 0; i < tail; ++i) padded[i] = x[full_groups * G + i];
        simd::q8_quantize<G>(padded, 1, codes + full_groups * G, scales + full_groups);
    }
}

/// out[i] = scale[i / G] * code[i] for the Din inputs of row o (an embedding lookup).
template <q8_projection_matrix M>
inline void q8_dequantize_row(const M& w, std::size_t o, float* out) noexcept {
    const std::int8_t* codes = w.code_row(o);
    const float* scales = w.scale_row(o);
    for (std::size_t i = 0; i < M::in_features; ++i) out[i] = scales[i / M::group] * float(codes[i]);
}

/// Weight rows per q8_rows_dot call in project_q8: the rows share each activation load (and, on the
/// VNNI and Arm DSP bodies, its code sum or unpacking). 4 on vector targets (the row accumulators
/// and scale vectors fit 16 or 32 registers); 2 on the Arm DSP body, whose inner loop holds two
/// rows' int32 sums, pointers and unpacked words in the 13 core registers (with 4 rows GCC -Os keeps
/// the sums on the stack: a load and a store per row and word on Cortex-M4). Helium cores have the
/// DSP extension too but run the Helium body: 4 rows, one per float lane of its scale step.
inline constexpr std::size_t q8_rows_per_call = simd::target::q8_arm_dsp && !simd::target::mve_int ? 2 : 4;

/// How many weight rows ahead project_q8 prefetches, on hosts with a cache hierarchy (x86 with
/// AVX2, aarch64): a model's int8 weights are about the size of a host's last-level cache, and the
/// stories15M-shape matrices streamed one after another (bench/bench_decode_q8.cpp, all_matrices)
/// ran 10-40% faster with 16 rows (4.6 KB at width 288) than without, on an AVX-512 VNNI core
/// (32 was not distinguishable from 16 there). 0 on microcontrollers (no cache to fill ahead; their
/// instruction counts stay as they were) and on the scalar build.
inline constexpr std::size_t q8_prefetch_rows = simd::target::q8_avx2 || simd::target::q8_neon ? 16 : 0;

/// One row of project_q8 from activations already quantized (xq: M::row_codes codes, xs: M::groups
/// scales): out (Dout floats) = Q8(x) W + bias (bias: Dout floats or nullptr).
template <q8_projection_matrix M>
inline void project_q8_row(const std::int8_t* xq, const float* xs, const M& w, const float* bias, float* out) noexcept {
    constexpr std::size_t Dout = M::out_features, G = M::group, groups = M::groups;
    constexpr std::size_t R = q8_rows_per_call, blocked = Dout / R * R;
    constexpr std::size_t prefetch_rows = q8_prefetch_rows;
    for (std::size_t o = 0; o < blocked; o += R) {
        // The rows prefetch_rows ahead, one cache line per 64 codes: a matrix larger than the
        // cache streams from memory, and a call's 4 row streams are too short for the
        // hardware prefetcher to run far enough ahead on its own.
        if constexpr (prefetch_rows > 0) {
            if (o + prefetch_rows + R <= Dout) {  // rows that exist: no pointer past the matrix
                const auto* codes_ahead = reinterpret_cast<const char*>(w.code_row(o + prefetch_rows));
                const auto* scales_ahead = reinterpret_cast<const char*>(w.scale_row(o + prefetch_rows));
                CTATTN_UNROLL for (std::size_t b = 0; b < R * M::row_codes; b += 64) __builtin_prefetch(codes_ahead + b);
                CTATTN_UNROLL for (std::size_t b = 0; b < R * groups * sizeof(float); b += 64) __builtin_prefetch(scales_ahead + b);
            }
        }
        simd::q8_rows_dot<G, R>(w.code_row(o), M::row_codes, w.scale_row(o), groups, xq, xs, groups, out + o);
    }
    for (std::size_t o = blocked; o < Dout; ++o)
        out[o] = simd::q8_row_dot<G>(w.code_row(o), w.scale_row(o), xq, xs, groups);
    if (bias)
        for (std::size_t o = 0; o < Dout; ++o) out[o] = bias[o] + out[o];
}

/// rows x Din activations (row stride Din) through a Q8 matrix: y (rows x Dout) = Q8(x) W + bias
/// (bias: Dout floats or nullptr). y must not overlap x. The quantized activations live on the
/// stack: row_codes bytes + groups floats. W's rows lie row_codes codes and groups scales apart (as
/// in q8_matrix and q8_matrix_view). Outputs are computed q8_rows_per_call weight rows at a
/// time (simd::q8_rows_dot), the last Dout % q8_rows_per_call one by one (simd::q8_row_dot): each
/// output is bit for bit the same either way.
template <q8_projection_matrix M>
inline void project_q8(std::size_t rows, const float* x, const M& w, const float* bias, float* y) noexcept {
    alignas(64) std::int8_t xq[M::row_codes];
    float xs[M::groups];
    for (std::size_t r = 0; r < rows; ++r) {
        q8_quantize_row<M>(x + r * M::in_features, xq, xs);
        project_q8_row(xq, xs, w, bias, y + r * M::out_features);
    }
}

/// y = x W + bias for a Din -> Dout projection in whatever format W has: a float matrix (Din x Dout,
/// kernels::project) or a Q8 matrix (project_q8). The layers call this, so one source runs both.
template <std::size_t Din, std::size_t Dout, class Arch = simd::default_arch, class Matrix>
inline void project_weights(std::size_t rows, const float* x, const Matrix& w, const float* bias, float* y) noexcept {
    if constexpr (q8_projection_matrix<Matrix>) {
        static_assert(Matrix::in_features == Din && Matrix::out_features == Dout,
                      "ctattn: the Q8 matrix's shape is not the projection's Din -> Dout");
        project_q8(rows, x, w, bias, y);
    } else {
        project<Din, Dout, Arch>(rows, x, w.data(), bias, y);
    }
}

/// One of several projections of the same input (project_weights_sharing_input): y (rows x Dout) =
/// x W + bias, W in any format project_weights takes, bias Dout floats or nullptr.
template <std::size_t Dout, class Matrix>
struct projection_into {
    const Matrix& w;    ///< the weights (float Din x Dout, or Q8)
    const float* bias;  ///< Dout floats or nullptr
    float* y;           ///< rows x Dout outputs
};

/// projection_into<Dout> from its three parts (the matrix type deduced).
template <std::size_t Dout, class Matrix>
inline projection_into<Dout, Matrix> project_into(const Matrix& w, const float* bias, float* y) noexcept {
    return {w, bias, y};
}

/// Every projection p of the same rows x Din input x: p.y = x p.w + p.bias, as project_weights for
/// each (bit for bit). When all are Q8 with one group size (attention's Wq, Wk, Wv; the gated FFN's
/// W1, W3), each row of x is quantized once for all of them instead of once per matrix.
template <std::size_t Din, class Arch = simd::default_arch, std::size_t... Douts, class... Matrices>
inline void project_weights_sharing_input(std::size_t rows, const float* x,
                                          projection_into<Douts, Matrices>... p) noexcept {
    static_assert(sizeof...(Matrices) >= 1, "ctattn: project_weights_sharing_input needs a projection");
    using First = std::tuple_element_t<0, std::tuple<Matrices...>>;
    if constexpr ((q8_projection_matrix<Matrices> && ...)) {
        static_assert(((Matrices::in_features == Din && Matrices::group == First::group &&
                        Matrices::row_codes == First::row_codes) && ...),
                      "ctattn: Q8 matrices sharing an input need its width and one group size");
        static_assert(((Matrices::out_features == Douts) && ...),
                      "ctattn: a Q8 matrix's shape is not its projection's Din -> Dout");
        alignas(64) std::int8_t xq[First::row_codes];
        float xs[First::groups];
        for (std::size_t r = 0; r < rows; ++r) {
            q8_quantize_row<First>(x + r * Din, xq, xs);
            (project_q8_row(xq, xs, p.w, p.bias, p.y + r * Douts), ...);
        }
    } else {
        (project_weights<Din, Douts, Arch>(rows, x, p.w, p.bias, p.y), ...);
    }
}

}  // namespace ctattn::kernels
