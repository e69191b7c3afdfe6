// SPDX-License-Identifier: Apache-2.0
// AdamW (Loshchilov & Hutter; torch.optim.AdamW), step t = 1, 2, ...:
//   w *= 1 - lr * wd                               (decoupled weight decay, 2-D weights only)
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Gains and biases are not decayed (tensor_info::matrix is false for them), the common choice
// for transformers. The moments are two more objects of the weights type.
// A step validates first and changes nothing (weights, moments, step count) when it fails:
// invalid_parameter unless lr >= 0, 0 <= b1, b2 < 1 (b = 1 divides by 1 - b^t = 0), eps > 0
// (eps = 0 divides by 0 where v = 0), wd >= 0 and lr * wd <= 1 (the decay factor stays in
// [0, 1]), all finite; non_finite when a gradient is NaN or infinite or the update would overflow.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>

#include "../base/status.hpp"
#include "parameters.hpp"
#include "sgd.hpp"  // detail::update_stays_finite, apply_update

namespace ctattn::train {

/// AdamW with bias-corrected moments and decoupled weight decay on 2-D weights (the moments live here).
template <class Weights>
struct adamw {
    float learning_rate = 1e-3f;  ///< >= 0 and finite
    float beta1 = 0.9f;           ///< first-moment decay, in [0, 1)
    float beta2 = 0.999f;         ///< second-moment decay, in [0, 1)
    float eps = 1e-8f;            ///< > 0: keeps the step finite where v = 0
    float weight_decay = 0.01f;   ///< >= 0, with learning_rate * weight_decay <= 1
    long steps = 0;  ///< updates done so far
    Weights m;       ///< first moment, same shape as the weights
    Weights v;       ///< second moment

    /// Zeroes the moments and the step count: call before training (static storage already is zero).
    void reset() noexcept {
        zero_tensors(m);
        zero_tensors(v);
        steps = 0;
    }

    /// status::invalid_parameter unless learning_rate >= 0, beta1 and beta2 in [0, 1), eps > 0,
    /// weight_decay >= 0 and learning_rate * weight_decay <= 1, all finite; else status::ok.
    [[nodiscard]] status validate() const noexcept {
        const auto unit_interval = [](float b) { return b >= 0.0f && b < 1.0f; };  // false for NaN
        const bool ok = detail::valid_learning_rate(learning_rate) && unit_interval(beta1) && unit_interval(beta2) &&
                        std::isfinite(eps) && eps > 0.0f && std::isfinite(weight_decay) && weight_decay >= 0.0f &&
                        learning_rate * weight_decay <= 1.0f;
        return ok ? status::ok : status::invalid_parameter;
    }

    /// One update of `w` from the gradients `g`; on a failure (invalid_parameter from validate(), or
    /// non_finite for a NaN or infinite gradient or update) weights, moments and steps are unchanged.
    [[nodiscard]] status step(Weights& w, Weights& g) noexcept {
        if (const status s = validate(); s != status::ok) return s;
        const long t = steps + 1;
        const float lr = learning_rate, b1 = beta1, b2 = beta2, e = eps;
        const float correction1 = 1.0f - float(std::pow(double(b1), double(t)));
        const float correction2 = 1.0f - float(std::pow(double(b2), double(t)));
        const float decay = 1.0f - lr * weight_decay;
        auto update = [&](const tensor_info& info, std::size_t i, bool write, float* wp, float* gp, float* mp,
                          float* vp) {
            const float keep = info.matrix ? decay : 1.0f;
            const float gi = gp[i];
            const float m_next = b1 * mp[i] + (1.0f - b1) * gi;
            const float v_next = b2 * vp[i] + (1.0f - b2) * gi * gi;
            const float m_hat = m_next / correction1, v_hat = v_next / correction2;
            const float w_next = wp[i] * keep - lr * m_hat / (std::sqrt(v_hat) + e);
            if (write) {
                mp[i] = m_next;
                vp[i] = v_next;
                wp[i] = w_next;
            }
            return std::isfinite(gi) && std::isfinite(v_next) && std::isfinite(w_next);
        };
        if (!detail::update_stays_finite(update, w, g, m, v)) return status::non_finite;
        detail::apply_update(update, w, g, m, v);
        steps = t;
        return status::ok;
    }
};

}  // namespace ctattn::train
