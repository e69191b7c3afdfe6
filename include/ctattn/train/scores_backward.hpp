// SPDX-License-Identifier: Apache-2.0
// Backward of the scaled scores s_j = scale * q . k_j (kernels/scores.hpp), for one query row
// over the visible keys:
//   dq += scale * sum_j ds_j k_j        dk_j += scale * ds_j q
// K rows have stride KStride (kv_dim when heads sit side by side in a row).
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "../base/mask.hpp"

namespace ctattn::train {

// k rows have stride KStride, dk rows DkStride (the cache layout of k need not be dk's).
template <std::size_t HeadDim, std::size_t KStride = HeadDim, std::size_t DkStride = KStride>
inline void score_row_gradient(const float* q, const float* k, const float* ds, key_range visible, float scale,
                               float* dq, float* dk) noexcept {
    for (std::size_t j = visible.begin; j < visible.end; ++j) {
        const float g = scale * ds[j];
        const float* k_row = k + j * KStride;
        float* dk_row = dk + j * DkStride;
        for (std::size_t d = 0; d < HeadDim; ++d) {
            dq[d] += g * k_row[d];
            dk_row[d] += g * q[d];
        }
    }
}

}  // namespace ctattn::train
