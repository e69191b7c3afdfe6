// SPDX-License-Identifier: Apache-2.0
// Cross-entropy of one row of logits against a target token, and its gradient:
//   loss = log sum_t exp(l_t) - l_target           (= -log p_target, p = softmax(l))
//   dloss/dl_t = p_t - [t == target]
// Max-subtracted like the forward softmax, so logits up to +-1e30 stay finite. The gradient is
// scaled by `weight` (1 / number of predictions for a mean loss) as it is written.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ctattn::train {

// Returns -log p_target (accumulated in double, returned as float). grad may alias logits.
template <std::size_t Vocab>
inline float cross_entropy_row(const float* logits, std::uint32_t target, float weight, float* grad) noexcept {
    static_assert(Vocab > 0, "ctattn: cross-entropy needs a vocabulary of at least 1 token");
    float max = logits[0];
    for (std::size_t t = 1; t < Vocab; ++t) max = logits[t] > max ? logits[t] : max;
    double sum = 0.0;
    for (std::size_t t = 0; t < Vocab; ++t) sum += std::exp(double(logits[t] - max));
    const float target_logit = logits[target];
    const double log_sum = std::log(sum);
    const float inv_sum = float(1.0 / sum);
    for (std::size_t t = 0; t < Vocab; ++t) {
        const float p = std::exp(logits[t] - max) * inv_sum;
        grad[t] = weight * (p - (t == target ? 1.0f : 0.0f));
    }
    return float(log_sum - double(target_logit - max));
}

}  // namespace ctattn::train
