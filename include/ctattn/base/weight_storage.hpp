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

// A read-only Rows x Cols row-major matrix somewhere else (flash, a blob, an owning matrix). No
// alignment is assumed beyond float's: the kernels load unaligned.
template <std::size_t Rows, std::size_t Cols, class T = float>
struct matrix_view {
    static_assert(Rows > 0 && Cols > 0, "ctattn: a matrix view needs at least one row and one column");
    static constexpr std::size_t rows = Rows;
    static constexpr std::size_t cols = Cols;
    static constexpr std::size_t size = Rows * Cols;

    const T* values = nullptr;  // (rows, cols), not owned

    constexpr const T* data() const noexcept { return values; }
    constexpr const T* row(std::size_t r) const noexcept { return values + r * Cols; }
    constexpr const T& operator()(std::size_t r, std::size_t c) const noexcept { return values[r * Cols + c]; }
    constexpr const T& operator[](std::size_t i) const noexcept { return values[i]; }
};

// Storage policies: Storage::matrix<R, C> is the type of one tensor.
struct owned_weights {
    static constexpr bool owning = true;
    template <std::size_t Rows, std::size_t Cols>
    using matrix = ctattn::matrix<Rows, Cols>;
};
struct viewed_weights {
    static constexpr bool owning = false;
    template <std::size_t Rows, std::size_t Cols>
    using matrix = matrix_view<Rows, Cols>;
};

template <class S>
concept weight_storage = requires {
    { S::owning } -> std::convertible_to<bool>;
    typename S::template matrix<1, 1>;
};

// Tensors of a contiguous weights image (generated arrays, blob payloads) start at multiples of
// 16 floats (64 bytes: a cache line, an AVX-512 vector); the gaps are zeros.
inline constexpr std::size_t weight_tensor_alignment_floats = 16;
constexpr std::size_t padded_tensor_floats(std::size_t floats) noexcept {
    return (floats + weight_tensor_alignment_floats - 1) / weight_tensor_alignment_floats *
           weight_tensor_alignment_floats;
}

}  // namespace ctattn
