// SPDX-License-Identifier: Apache-2.0
// Who holds a model's weights. Every weights struct (norms, attention, FFN, positions, head,
// block, model) takes a Storage policy that says what one tensor is:
//   owned_weights   matrix<R, C> by value: the object holds the numbers (llama2c::load fills it)
//   viewed_weights  matrix_view<R, C>: a const float pointer with the extents in its type, into
//                   numbers that live elsewhere: constant arrays in flash, a validated blob
// The model, block and kernel code read both through .data() / .row(r) and run unchanged; the
// kernels only ever see plain `const float*`. A view is an aggregate of pointers, so one built from
// `extern const` arrays is a constant expression and sits in .rodata next to the numbers.
// Quantized projections (base/weight_format.hpp) are q8_matrix (owned) or q8_matrix_view: Dout rows
// of Din int8 codes (the input dimension contiguous, the transpose of the float x @ W layout), each
// row padded with zero codes to whole groups of G, and one float scale per group:
//   W[i][o] ~= scales[o][i / G] * codes[o][i]
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "storage.hpp"

namespace ctattn {

/// A read-only Rows x Cols row-major matrix somewhere else (flash, a blob, an owning matrix). No
/// alignment is assumed beyond float's: the kernels load unaligned.
template <std::size_t Rows, std::size_t Cols, class T = float>
struct matrix_view {
    static_assert(Rows > 0 && Cols > 0, "ctattn: a matrix view needs at least one row and one column");
    static constexpr std::size_t rows = Rows;         ///< number of rows
    static constexpr std::size_t cols = Cols;         ///< number of columns (floats per row)
    static constexpr std::size_t size = Rows * Cols;  ///< number of elements

    const T* values = nullptr;  ///< (rows, cols), not owned

    /// The first element; the rest follow row by row.
    constexpr const T* data() const noexcept { return values; }
    /// Row r: cols contiguous elements.
    constexpr const T* row(std::size_t r) const noexcept { return values + r * Cols; }
    /// The element at row r, column c.
    constexpr const T& operator()(std::size_t r, std::size_t c) const noexcept { return values[r * Cols + c]; }
    /// Element i in row-major order.
    constexpr const T& operator[](std::size_t i) const noexcept { return values[i]; }
};

// Storage policies: Storage::matrix<R, C> is the type of one tensor.
/// Storage policy: each tensor is a matrix held by value (the weights object holds the numbers).
struct owned_weights {
    static constexpr bool owning = true;  ///< the weights object holds the numbers
    /// One tensor: a matrix held by value.
    template <std::size_t Rows, std::size_t Cols>
    using matrix = ctattn::matrix<Rows, Cols>;
};
/// Storage policy: each tensor is a matrix_view into numbers that live elsewhere (flash, a blob).
struct viewed_weights {
    static constexpr bool owning = false;  ///< the numbers live elsewhere
    /// One tensor: a read-only view.
    template <std::size_t Rows, std::size_t Cols>
    using matrix = matrix_view<Rows, Cols>;
};

// ---- int8 (Q8) projection matrices ------------------------------------------------------

namespace detail {
// The checks every Q8 matrix type shares; a bad group is a compile error naming the rule.
template <std::size_t Din, std::size_t Dout, std::size_t G, std::size_t RowCodes>
constexpr bool check_q8_shape() noexcept {
    static_assert(Din > 0 && Dout > 0, "ctattn: a Q8 matrix needs at least one input and one output");
    static_assert(G >= 1 && G <= 65536, "ctattn: a Q8 group holds 1..65536 codes (int32 group sums cannot overflow)");
    static_assert(RowCodes % G == 0,
                  "ctattn: the Q8 group size G must divide the (padded) row: a group that straddles two rows "
                  "reads its codes with the wrong scale (llama2.c runq.c's trap with hidden 172)");
    static_assert(RowCodes >= Din && RowCodes - Din < G,
                  "ctattn: a Q8 row is Din codes padded with fewer than G zeros to a multiple of G");
    return true;
}
}  // namespace detail

/// Din -> Dout projection in Q8, held by value: Dout rows of RowCodes int8 codes (Din real codes,
/// then zeros up to a multiple of G) and Dout x RowCodes/G float scales. RowCodes defaults to Din
/// rounded up to a multiple of G.
template <std::size_t Din, std::size_t Dout, std::size_t G, std::size_t RowCodes = (Din + G - 1) / G * G>
struct q8_matrix {
    static_assert(detail::check_q8_shape<Din, Dout, G, RowCodes>());
    static constexpr std::size_t in_features = Din;          ///< inputs (real codes per row)
    static constexpr std::size_t out_features = Dout;        ///< outputs (rows)
    static constexpr std::size_t group = G;                  ///< codes sharing one scale
    static constexpr std::size_t row_codes = RowCodes;       ///< codes per row, padding included
    static constexpr std::size_t groups = RowCodes / G;      ///< scales per row
    static constexpr std::size_t code_count = Dout * RowCodes;  ///< int8 codes in all
    static constexpr std::size_t scale_count = Dout * groups;   ///< float scales in all

    alignas(64) std::int8_t codes[code_count];  ///< (out, row_codes)
    alignas(64) float scales[scale_count];      ///< (out, groups)

    /// Row o's codes (row_codes of them).
    constexpr std::int8_t* code_row(std::size_t o) noexcept { return codes + o * RowCodes; }
    /// Row o's codes (row_codes of them).
    constexpr const std::int8_t* code_row(std::size_t o) const noexcept { return codes + o * RowCodes; }
    /// Row o's scales (groups of them).
    constexpr float* scale_row(std::size_t o) noexcept { return scales + o * groups; }
    /// Row o's scales (groups of them).
    constexpr const float* scale_row(std::size_t o) const noexcept { return scales + o * groups; }
};

/// The same matrix read in place (flash, a blob): pointers to the codes and the scales.
template <std::size_t Din, std::size_t Dout, std::size_t G, std::size_t RowCodes = (Din + G - 1) / G * G>
struct q8_matrix_view {
    static_assert(detail::check_q8_shape<Din, Dout, G, RowCodes>());
    static constexpr std::size_t in_features = Din;          ///< inputs (real codes per row)
    static constexpr std::size_t out_features = Dout;        ///< outputs (rows)
    static constexpr std::size_t group = G;                  ///< codes sharing one scale
    static constexpr std::size_t row_codes = RowCodes;       ///< codes per row, padding included
    static constexpr std::size_t groups = RowCodes / G;      ///< scales per row
    static constexpr std::size_t code_count = Dout * RowCodes;  ///< int8 codes in all
    static constexpr std::size_t scale_count = Dout * groups;   ///< float scales in all

    const std::int8_t* codes = nullptr;  ///< (out, row_codes), not owned
    const float* scales = nullptr;       ///< (out, groups), not owned

    /// Row o's codes (row_codes of them).
    constexpr const std::int8_t* code_row(std::size_t o) const noexcept { return codes + o * RowCodes; }
    /// Row o's scales (groups of them).
    constexpr const float* scale_row(std::size_t o) const noexcept { return scales + o * groups; }
};

/// A Q8 projection matrix, owned or viewed (what the quantized kernels take).
template <class M>
concept q8_projection_matrix = requires(const M& m) {
    M::in_features; M::out_features; M::group; M::row_codes; M::groups;
    { m.code_row(0) } -> std::convertible_to<const std::int8_t*>;
    { m.scale_row(0) } -> std::convertible_to<const float*>;
};

/// A storage policy: owned_weights, viewed_weights, or a type with the same two members.
template <class S>
concept weight_storage = requires {
    { S::owning } -> std::convertible_to<bool>;
    typename S::template matrix<1, 1>;
};

/// Tensors of a contiguous weights image (generated arrays, blob payloads) start at multiples of
/// 16 floats (64 bytes: a cache line, an AVX-512 vector); the gaps are zeros.
inline constexpr std::size_t weight_tensor_alignment_floats = 16;
/// `floats` rounded up to a multiple of weight_tensor_alignment_floats.
constexpr std::size_t padded_tensor_floats(std::size_t floats) noexcept {
    return (floats + weight_tensor_alignment_floats - 1) / weight_tensor_alignment_floats *
           weight_tensor_alignment_floats;
}

}  // namespace ctattn
