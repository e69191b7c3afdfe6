// SPDX-License-Identifier: Apache-2.0
// Fixed-size, aligned, row-major storage. Every buffer in ctattn is one of these (or a caller
// pointer into one), sized by the type: nothing is ever taken from the heap. Alignment is 64 bytes,
// a cache line and the widest vector (AVX-512) so aligned loads are always legal.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

namespace ctattn {

/// Alignment of every matrix, in bytes: a cache line and an AVX-512 vector.
inline constexpr std::size_t storage_alignment = 64;

/// A Rows x Cols row-major matrix held by value: `matrix<S, D>` is S rows of D floats.
template <std::size_t Rows, std::size_t Cols, class T = float>
struct alignas(storage_alignment) matrix {
    static_assert(Rows > 0 && Cols > 0, "ctattn: a matrix needs at least one row and one column");
    static constexpr std::size_t rows = Rows;         ///< number of rows
    static constexpr std::size_t cols = Cols;         ///< number of columns (floats per row)
    static constexpr std::size_t size = Rows * Cols;  ///< number of elements

    T values[Rows * Cols];  ///< (rows, cols)

    /// The first element; the rest follow row by row.
    constexpr T* data() noexcept { return values; }
    /// The first element; the rest follow row by row.
    constexpr const T* data() const noexcept { return values; }
    /// Row r: cols contiguous elements.
    constexpr T* row(std::size_t r) noexcept { return values + r * Cols; }
    /// Row r: cols contiguous elements.
    constexpr const T* row(std::size_t r) const noexcept { return values + r * Cols; }
    /// The element at row r, column c.
    constexpr T& operator()(std::size_t r, std::size_t c) noexcept { return values[r * Cols + c]; }
    /// The element at row r, column c.
    constexpr const T& operator()(std::size_t r, std::size_t c) const noexcept { return values[r * Cols + c]; }
    /// Element i in row-major order.
    constexpr T& operator[](std::size_t i) noexcept { return values[i]; }
    /// Element i in row-major order.
    constexpr const T& operator[](std::size_t i) const noexcept { return values[i]; }
};

/// A single row: biases, norm gains, one token's activations.
template <std::size_t N, class T = float>
using row_vector = matrix<1, N, T>;

}  // namespace ctattn
