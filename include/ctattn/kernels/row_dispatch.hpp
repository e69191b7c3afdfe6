// Register tiles have a compile-time row count; the rows left at the end of a run (the last few
// tokens, the last query block) are known only at run time. with_row_count turns 1..Max run-time
// rows into a call of f(std::integral_constant<size_t, rows>), one instantiation per count.
#pragma once

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

}  // namespace ctattn::kernels
