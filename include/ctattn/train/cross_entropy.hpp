// SPDX-License-Identifier: Apache-2.0
// Cross-entropy of one row of logits against a target token, and its gradient:
//   loss = log sum_t exp(l_t) - l_target           (= -log p_target, p = softmax(l))
//   dloss/dl_t = p_t - [t == target]
// Max-subtracted like the forward softmax, so any finite logits give a finite loss (the sum of
// exp(l_t - max) lies in [1, Vocab]). The gradient is scaled by `weight` (1 / number of
// predictions for a mean loss) as it is written.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../base/status.hpp"

namespace ctattn::train {

/// Cross-entropy of one row of Vocab logits against `target`; grad receives weight * (p - onehot).
/// loss receives -log p_target (accumulated in double, returned as float); grad may alias logits.
/// invalid_token when target >= Vocab (it would index past the row), invalid_parameter for a
/// non-finite weight, non_finite when a logit is NaN or infinite: then loss and grad are untouched.
template <std::size_t Vocab>
[[nodiscard]] inline status cross_entropy_row(const float* logits, std::uint32_t target, float weight, float* grad,
                                              float& loss) noexcept {
    static_assert(Vocab > 0, "ctattn: cross-entropy needs a vocabulary of at least 1 token");
    if (logits == nullptr || grad == nullptr) return status::invalid_argument;
    if (target >= Vocab) return status::invalid_token;
    if (!std::isfinite(weight)) return status::invalid_parameter;
    float max = logits[0];
    bool finite = true;
    for (std::size_t t = 0; t < Vocab; ++t) {
        finite = finite && std::isfinite(logits[t]);
        max = logits[t] > max ? logits[t] : max;
    }
    if (!finite) return status::non_finite;
    double sum = 0.0;
    for (std::size_t t = 0; t < Vocab; ++t) sum += std::exp(double(logits[t] - max));
    const float target_logit = logits[target];
    const double log_sum = std::log(sum);
    const float inv_sum = float(1.0 / sum);
    for (std::size_t t = 0; t < Vocab; ++t) {
        const float p = std::exp(logits[t] - max) * inv_sum;
        grad[t] = weight * (p - (t == target ? 1.0f : 0.0f));
    }
    loss = float(log_sum - double(target_logit - max));
    return status::ok;
}

}  // namespace ctattn::train
