// SPDX-License-Identifier: Apache-2.0
// Fixed-size, aligned, row-major storage. Every buffer in ctattn is one of these (or a caller
// pointer into one), sized by the type: nothing is ever taken from the heap. Alignment is 64 bytes,
// a cache line and the widest vector (AVX-512) so aligned loads are always legal.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

namespace ctattn {

inline constexpr std::size_t storage_alignment = 64;

// A Rows x Cols row-major matrix held by value: `matrix<S, D>` is S rows of D floats.
template <std::size_t Rows, std::size_t Cols, class T = float>
struct alignas(storage_alignment) matrix {
    static_assert(Rows > 0 && Cols > 0, "ctattn: a matrix needs at least one row and one column");
    static constexpr std::size_t rows = Rows;
    static constexpr std::size_t cols = Cols;
    static constexpr std::size_t size = Rows * Cols;

    T values[Rows * Cols];  // (rows, cols)

    constexpr T* data() noexcept { return values; }
    constexpr const T* data() const noexcept { return values; }
    constexpr T* row(std::size_t r) noexcept { return values + r * Cols; }
    constexpr const T* row(std::size_t r) const noexcept { return values + r * Cols; }
    constexpr T& operator()(std::size_t r, std::size_t c) noexcept { return values[r * Cols + c]; }
    constexpr const T& operator()(std::size_t r, std::size_t c) const noexcept { return values[r * Cols + c]; }
    constexpr T& operator[](std::size_t i) noexcept { return values[i]; }
    constexpr const T& operator[](std::size_t i) const noexcept { return values[i]; }
};

// A single row: biases, norm gains, one token's activations.
template <std::size_t N, class T = float>
using row_vector = matrix<1, N, T>;

}  // namespace ctattn
