// SPDX-License-Identifier: Apache-2.0
// Stack high-water mark by painting: startup.cpp fills the unused stack with a pattern before
// main(); the deepest word no longer holding it marks the most stack main ever used.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" std::uint32_t __stack_limit[], __stack_top[];

namespace embedded {

inline constexpr std::uint32_t stack_paint = 0xA5A5A5A5u;

// Bytes between the top of the stack and the lowest word that was overwritten.
inline std::size_t stack_high_water_bytes() noexcept {
    const volatile std::uint32_t* p = __stack_limit;
    while (p < __stack_top && *p == stack_paint) ++p;
    return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__stack_top) - reinterpret_cast<std::uintptr_t>(p));
}

inline std::size_t stack_size_bytes() noexcept {
    return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__stack_top) -
                                    reinterpret_cast<std::uintptr_t>(__stack_limit));
}

}  // namespace embedded
