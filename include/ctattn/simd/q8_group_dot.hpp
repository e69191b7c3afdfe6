// SPDX-License-Identifier: Apache-2.0
// One Q8 group's integer dot, the exact inner sum of every scalar Q8 body:
//   acc = sum_{i < G} w[i] * x[i]     (int8 codes, int32: |acc| <= 127 * 127 * G < 2^31)
// Shared by simd/q8.hpp's scalar body and simd/q8_soft_float.hpp (cores without an FPU), which
// differ only in how they apply the group's float scales.
#pragma once

#include "../base/language_check.hpp"

#include <cstddef>
#include <cstdint>

namespace ctattn::simd {

/// sum over i < G of w[i] * x[i], exactly (int32). Four codes per step, written out: the loop's
/// branch and increment are paid per 4 codes (GCC does not unroll it at -Os, the usual firmware
/// setting, even when asked).
template <std::size_t G>
inline std::int32_t q8_group_dot(const std::int8_t* w, const std::int8_t* x) noexcept {
    std::int32_t acc = 0;
    std::size_t i = 0;
    for (; i + 4 <= G; i += 4)
        acc += std::int32_t(w[i]) * std::int32_t(x[i]) + std::int32_t(w[i + 1]) * std::int32_t(x[i + 1]) +
               std::int32_t(w[i + 2]) * std::int32_t(x[i + 2]) + std::int32_t(w[i + 3]) * std::int32_t(x[i + 3]);
    for (; i < G; ++i) acc += std::int32_t(w[i]) * std::int32_t(x[i]);
    return acc;
}

}  // namespace ctattn::simd
