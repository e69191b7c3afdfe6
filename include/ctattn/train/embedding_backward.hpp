// SPDX-License-Identifier: Apache-2.0
// Backward of the embedding lookup x_r = E[token_r]: each row's gradient is added to the row of
// the table it was read from, dE[token_r] += dx_r (a token seen twice collects both).
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>
#include <cstdint>

namespace ctattn::train {

template <std::size_t DModel>
inline void embedding_gradient(std::size_t rows, const std::uint32_t* tokens, const float* dx, float* d_embedding) noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
        float* dst = d_embedding + std::size_t(tokens[r]) * DModel;
        const float* src = dx + r * DModel;
        for (std::size_t i = 0; i < DModel; ++i) dst[i] += src[i];
    }
}

}  // namespace ctattn::train
