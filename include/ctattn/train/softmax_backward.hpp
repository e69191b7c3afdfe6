// SPDX-License-Identifier: Apache-2.0
// Backward of the masked row softmax p = softmax(s) (kernels/softmax.hpp):
//   ds_j = p_j (dp_j - sum_k p_k dp_k)
// Masked keys have p_j = 0 exactly, so their ds_j is 0 and only the visible run is touched;
// entries outside it are set to 0.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "../base/mask.hpp"

namespace ctattn::train {

// p, dp: one row of n_keys; ds receives the score gradient (may alias dp).
inline void softmax_row_gradient(const float* p, const float* dp, std::size_t n_keys, key_range visible,
                                 float* ds) noexcept {
    const std::size_t begin = visible.begin, end = visible.end < n_keys ? visible.end : n_keys;
    float weighted = 0.0f;
    for (std::size_t j = begin; j < end; ++j) weighted += p[j] * dp[j];
    for (std::size_t j = 0; j < begin; ++j) ds[j] = 0.0f;
    for (std::size_t j = begin; j < end; ++j) ds[j] = p[j] * (dp[j] - weighted);
    for (std::size_t j = end; j < n_keys; ++j) ds[j] = 0.0f;
}

}  // namespace ctattn::train
