// SPDX-License-Identifier: Apache-2.0
// Who holds a model's weights. Every weights struct (norms, attention, FFN, positions, head,
// block, model) takes a Storage policy that says what one tensor is:
//   owned_weights   matrix<R, C> by value: the object holds the numbers (llama2c::load fills it)
//   viewed_weights  matrix_view<R, C>: a const float pointer with the extents in its type, into
//                   numbers that live elsewhere: constant arrays in flash, a validated blob
// The model, block and kernel code read both through .data() / .row(r) and run unchanged; the
// kernels only ever see plain `const float*`. A view is an aggregate of pointers, so one built from
// `extern const` arrays is a constant expression and sits in .rodata next to the numbers.
#pragma once

#include <concepts>
#include <cstddef>

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
