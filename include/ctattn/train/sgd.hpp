// SPDX-License-Identifier: Apache-2.0
// Stochastic gradient descent, as PyTorch's torch.optim.SGD writes it:
//   plain:          w -= lr * g
//   with momentum:  b = mu * b + g;  w -= lr * b          (b starts at 0; first step b = g)
// Weights may be any type for_each_parameter visits (model_weights, single_head_weights); the
// momentum buffer is one more object of that type, so the configuration sizes it.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "parameters.hpp"

namespace ctattn::train {

template <class Weights>
inline void sgd_step(Weights& w, Weights& g, float learning_rate) noexcept {
    for_each_parameter([&](const tensor_info& t, float* wp, float* gp) {
        for (std::size_t i = 0; i < t.size; ++i) wp[i] -= learning_rate * gp[i];
    }, w, g);
}

template <class Weights>
struct sgd_momentum {
    float learning_rate = 0.01f;
    float momentum = 0.9f;
    Weights velocity;  // same shape as the weights

    // Zeroes the momentum buffer: call before the first step (static storage already is zero).
    void reset() noexcept { zero_tensors(velocity); }

    void step(Weights& w, Weights& g) noexcept {
        const float lr = learning_rate, mu = momentum;
        for_each_parameter([&](const tensor_info& t, float* wp, float* gp, float* bp) {
            for (std::size_t i = 0; i < t.size; ++i) {
                bp[i] = mu * bp[i] + gp[i];
                wp[i] -= lr * bp[i];
            }
        }, w, g, velocity);
    }
};

}  // namespace ctattn::train
