// SPDX-License-Identifier: Apache-2.0
// Quantized (Q8, w8a8) projection: per row of X, the activations are quantized once per group of G
// (simd::q8_quantize_input, in the layout the target's body reads), then every output is one
// group-scaled int8 row dot (simd::q8_input_rows_dot, several rows per call):
//   y[o] = b[o] + sum_g (sw[o][g] * sx[g]) * sum_{i in g} qw[o][i] * qx[i]
// Projections of one input (Q, K, V; W1, W3) quantize it once (project_weights_shared).
// Weights are a q8_matrix or q8_matrix_view (base/weight_storage.hpp): Dout rows of Din codes, rows
// padded with zero codes to whole groups (the activations' padding is zero too, so it adds
// nothing). Also the row operations around it: quantizing a float row into a Q8 row (loaders) and
// dequantizing one (the embedding lookup). project_weights runs the float or the Q8 kernel by type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

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
/// VNNI and Arm DSP bodies, its code sum or unpacking). 4 on every body: the vector bodies' row
/// accumulators and scale vectors fit 16 or 32 registers; on the Arm DSP body with paired
/// activations (simd::q8_paired_input) the 4 rows' int32 sums, an 8-code step's 4 activation words,
/// 2 weight words and the pointers fit the 13 core registers (the step is assembly, so GCC cannot
/// spill inside it), and each activation word is loaded once per 4 rows; Helium's body
/// (simd/q8_mve.hpp) scales 4 rows' sums with one float vector per group.
inline constexpr std::size_t q8_rows_per_call = 4;

/// Weight rows per simd::q8_input_rows_dot call in project_q8_input for a matrix M: all Dout where
/// the activations are paired (simd::q8_paired_input: the Arm DSP body walks the rows 4 at a time
/// itself, one call per projection instead of one per 4 rows), q8_rows_per_call otherwise.
template <q8_projection_matrix M>
inline constexpr std::size_t q8_rows_per_input_call = simd::q8_paired_input<M::group> ? M::out_features : q8_rows_per_call;

/// How many weight rows ahead project_q8 prefetches, on hosts with a cache hierarchy (x86 with
/// AVX2, aarch64): a model's int8 weights are about the size of a host's last-level cache, and the
/// stories15M-shape matrices streamed one after another (bench/bench_decode_q8.cpp, all_matrices)
/// ran 10-40% faster with 16 rows (4.6 KB at width 288) than without, on an AVX-512 VNNI core
/// (32 was not distinguishable from 16 there). 0 on microcontrollers (no cache to fill ahead; their
/// instruction counts stay as they were) and on the scalar build.
inline constexpr std::size_t q8_prefetch_rows = simd::target::q8_avx2 || simd::target::q8_neon ? 16 : 0;

/// One row of activations quantized for the Q8 matrices of Din inputs, groups of G and rows of
/// RowCodes codes: codes in the layout the target's rows dot reads (simd::q8_input_word) and one
/// scale per group. Matrices of the same input shape (Q, K and V; W1 and W3) read the same one.
template <std::size_t Din, std::size_t G, std::size_t RowCodes>
struct q8_input_row {
    static constexpr std::size_t in_features = Din;  ///< real inputs
    static constexpr std::size_t group = G;          ///< codes per scale
    static constexpr std::size_t row_codes = RowCodes;  ///< codes, padding included
    static constexpr std::size_t groups = RowCodes / G;  ///< scales
    alignas(64) simd::q8_input_word<G> codes[simd::q8_input_words<G>(RowCodes)];  ///< (row_codes) codes
    float scales[groups];                                                        ///< (groups)
};

/// The quantized-input type a Q8 matrix M reads.
template <q8_projection_matrix M>
using q8_input_for = q8_input_row<M::in_features, M::group, M::row_codes>;

/// Quantizes Din floats into a q8_input_row (zeros past Din): the codes and scales of
/// q8_quantize_row, in the target's layout.
template <std::size_t Din, std::size_t G, std::size_t RowCodes>
inline void q8_quantize_input(const float* x, q8_input_row<Din, G, RowCodes>& in) noexcept {
    static_assert(RowCodes - Din < G, "ctattn: a Q8 input row pads Din to whole groups");
    simd::q8_quantize_input<G, Din>(x, in.codes, in.scales);
}

/// One row of outputs from a quantized input: y (Dout) = Q8(x) W + bias (bias: Dout floats or
/// nullptr), q8_rows_per_input_call<M> weight rows per simd::q8_input_rows_dot call, the last
/// Dout % q8_rows_per_input_call<M> one by one: each output is bit for bit the same either way.
template <q8_projection_matrix M>
inline void project_q8_input(const q8_input_for<M>& in, const M& w, const float* bias, float* y) noexcept {
    constexpr std::size_t Din = M::in_features, Dout = M::out_features, G = M::group, groups = M::groups;
    constexpr std::size_t R = q8_rows_per_input_call<M>, blocked = Dout / R * R;
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
        simd::q8_input_rows_dot<G, R, Din, M::row_codes>(w.code_row(o), w.scale_row(o), in.codes, in.scales, y + o);
    }
    for (std::size_t o = blocked; o < Dout; ++o)
        simd::q8_input_rows_dot<G, 1, Din, M::row_codes>(w.code_row(o), w.scale_row(o), in.codes, in.scales, y + o);
    if (bias)
        for (std::size_t o = 0; o < Dout; ++o) y[o] = bias[o] + y[o];
}

/// rows x Din activations (row stride Din) through a Q8 matrix: y (rows x Dout) = Q8(x) W + bias
/// (bias: Dout floats or nullptr). y must not overlap x. Each row of x is quantized once
/// (q8_quantize_input, on the stack: row_codes codes + groups floats), then project_q8_input.
template <q8_projection_matrix M>
inline void project_q8(std::size_t rows, const float* x, const M& w, const float* bias, float* y) noexcept {
    q8_input_for<M> in;
    for (std::size_t r = 0; r < rows; ++r) {
        q8_quantize_input(x + r * M::in_features, in);
        project_q8_input(in, w, bias, y + r * M::out_features);
    }
}

/// One of several projections of the same input (project_weights_shared): its weights (float
/// Din x Dout or Q8), bias (Dout floats or nullptr) and output rows (rows x Dout).
template <std::size_t Dout, class Matrix>
struct shared_projection {
    const Matrix& w;     ///< the weights
    const float* bias;   ///< Dout floats or nullptr
    float* y;            ///< rows x Dout outputs
};

/// A shared_projection of Dout outputs (Dout spelled, the matrix deduced).
template <std::size_t Dout, class Matrix>
constexpr shared_projection<Dout, Matrix> project_to(const Matrix& w, const float* bias, float* y) noexcept {
    return {w, bias, y};
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

/// y_k = x W_k + b_k for projections that read the same input rows x (rows x Din): Q, K and V, or
/// the gated FFN's W1 and W3. When every W_k is a Q8 matrix of the same input shape, each row of
/// x is quantized once for all of them (the same outputs as project_q8 on each, bit for bit);
/// otherwise project_weights runs on each in turn. No y_k may overlap x.
template <std::size_t Din, class Arch = simd::default_arch, std::size_t... Dout, class... Matrix>
inline void project_weights_shared(std::size_t rows, const float* x,
                                   const shared_projection<Dout, Matrix>&... out) noexcept {
    constexpr bool q8_shared = (q8_projection_matrix<Matrix> && ...);
    if constexpr (q8_shared) {
        using first = std::tuple_element_t<0, std::tuple<Matrix...>>;
        static_assert((std::is_same_v<q8_input_for<first>, q8_input_for<Matrix>> && ...),
                      "ctattn: Q8 projections of one input share its quantization only with the same group and row shape");
        static_assert(((Matrix::in_features == Din && Matrix::out_features == Dout) && ...),
                      "ctattn: a Q8 matrix's shape is not its projection's Din -> Dout");
        q8_input_for<first> in;
        for (std::size_t r = 0; r < rows; ++r) {
            q8_quantize_input(x + r * Din, in);
            (project_q8_input(in, out.w, out.bias, out.y + r * Dout), ...);
        }
    } else {
        (project_weights<Din, Dout, Arch>(rows, x, out.w, out.bias, out.y), ...);
    }
}

}  // namespace ctattn::kernels
