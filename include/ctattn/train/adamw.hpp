// SPDX-License-Identifier: Apache-2.0
// AdamW (Loshchilov & Hutter; torch.optim.AdamW), step t = 1, 2, ...:
//   w *= 1 - lr * wd                               (decoupled weight decay, 2-D weights only)
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
//   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Gains and biases are not decayed (tensor_info::matrix is false for them), the common choice
// for transformers. The moments are two more objects of the weights type.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>

#include "parameters.hpp"

namespace ctattn::train {

template <class Weights>
struct adamw {
    float learning_rate = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.01f;
    long steps = 0;  // updates done so far
    Weights m;       // first moment, same shape as the weights
    Weights v;       // second moment

    // Zeroes the moments and the step count: call before training (static storage already is zero).
    void reset() noexcept {
        zero_tensors(m);
        zero_tensors(v);
        steps = 0;
    }

    void step(Weights& w, Weights& g) noexcept {
        ++steps;
        const float lr = learning_rate, b1 = beta1, b2 = beta2, e = eps;
        const float correction1 = 1.0f - float(std::pow(double(b1), double(steps)));
        const float correction2 = 1.0f - float(std::pow(double(b2), double(steps)));
        const float decay = 1.0f - lr * weight_decay;
        for_each_parameter([&](const tensor_info& t, float* wp, float* gp, float* mp, float* vp) {
            const float keep = t.matrix ? decay : 1.0f;
            for (std::size_t i = 0; i < t.size; ++i) {
                const float gi = gp[i];
                mp[i] = b1 * mp[i] + (1.0f - b1) * gi;
                vp[i] = b2 * vp[i] + (1.0f - b2) * gi * gi;
                const float m_hat = mp[i] / correction1, v_hat = vp[i] / correction2;
                wp[i] = wp[i] * keep - lr * m_hat / (std::sqrt(v_hat) + e);
            }
        }, w, g, m, v);
    }
};

}  // namespace ctattn::train
