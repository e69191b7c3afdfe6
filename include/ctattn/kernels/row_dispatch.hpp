// SPDX-License-Identifier: Apache-2.0
// Register tiles have a compile-time row count; the rows left at the end of a run (the last few
// tokens, the last query block) are known only at run time. with_row_count turns 1..Max run-time
// rows into a call of f(std::integral_constant<size_t, rows>), one instantiation per count, and
// for_row_blocks splits a run of rows into such blocks.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>
#include <type_traits>
#include <utility>

namespace ctattn::kernels {

template <std::size_t Max, class F>
inline void with_row_count(std::size_t rows, F&& f) noexcept {
    [&]<std::size_t... Counts>(std::index_sequence<Counts...>) {
        ((rows == Counts + 1 ? f(std::integral_constant<std::size_t, Counts + 1>{}) : void()), ...);
    }(std::make_index_sequence<Max>{});
}

// Rows in blocks of TileRows for a tile of that many rows, the last rows % TileRows as one block
// of exactly that many (its own, wider tile): f(rows_per_block, first_row, n_rows) with
// rows_per_block an integral_constant and n_rows a multiple of it.
template <std::size_t TileRows, class F>
inline void for_row_blocks(std::size_t rows, F&& f) noexcept {
    const std::size_t full_rows = rows / TileRows * TileRows;
    if (full_rows > 0) f(std::integral_constant<std::size_t, TileRows>{}, std::size_t(0), full_rows);
    if (rows > full_rows)
        with_row_count<TileRows - 1>(rows - full_rows, [&](auto block_rows) {
            f(block_rows, full_rows, std::size_t(decltype(block_rows)::value));
        });
}

}  // namespace ctattn::kernels
