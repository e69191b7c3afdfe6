// SPDX-License-Identifier: Apache-2.0
// Backward of the value aggregation o = sum_j p_j v_j (kernels/aggregate.hpp), one query row:
//   dp_j = do . v_j          dv_j += p_j do
// over the visible keys (dp is 0 elsewhere). V rows have stride VStride, dV rows DvStride.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "../base/mask.hpp"
#include "../kernels/scores.hpp"
#include "../simd/ops.hpp"

namespace ctattn::train {

template <std::size_t HeadDim, class Arch = simd::default_arch, std::size_t VStride = HeadDim,
          std::size_t DvStride = VStride>
inline void aggregate_row_gradient(const float* p, const float* v, const float* d_out, std::size_t n_keys,
                                   key_range visible, float* dp, float* dv) noexcept {
    for (std::size_t j = 0; j < n_keys; ++j) dp[j] = 0.0f;
    for (std::size_t j = visible.begin; j < visible.end; ++j) {
        dp[j] = kernels::dot<HeadDim, Arch>(d_out, v + j * VStride);
        const float pj = p[j];
        float* dv_row = dv + j * DvStride;
        for (std::size_t d = 0; d < HeadDim; ++d) dv_row[d] += pj * d_out[d];
    }
}

}  // namespace ctattn::train
