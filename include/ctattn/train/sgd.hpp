// SPDX-License-Identifier: Apache-2.0
// Stochastic gradient descent, as PyTorch's torch.optim.SGD writes it:
//   plain:          w -= lr * g
//   with momentum:  b = mu * b + g;  w -= lr * b          (b starts at 0; first step b = g)
// Weights may be any type for_each_parameter visits (model_weights, single_head_weights); the
// momentum buffer is one more object of that type, so the configuration sizes it.
// A step validates first and changes nothing when it fails: invalid_parameter for a learning rate
// that is negative or not finite (or a momentum outside [0, 1), which diverges), non_finite when a
// gradient is NaN or infinite, or when the update itself would overflow a weight to infinity.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>

#include "../base/status.hpp"
#include "parameters.hpp"

namespace ctattn::train {

namespace detail {
/// One pass that only looks: whether an update would keep every value finite. Run before the pass
/// that writes, so a failed step leaves weights and optimiser state as they were. It costs one more
/// read of the parameters per step, against a backward pass that reads them once per position.
template <class Update, class... Tensors>
inline bool update_stays_finite(Update& update, Tensors&... tensors) noexcept {
    bool finite = true;
    for_each_parameter([&](const tensor_info& t, auto*... p) {
        for (std::size_t i = 0; i < t.size; ++i) finite = finite && update(t, i, false, p...);
    }, tensors...);
    return finite;
}
template <class Update, class... Tensors>
inline void apply_update(Update& update, Tensors&... tensors) noexcept {
    for_each_parameter([&](const tensor_info& t, auto*... p) {
        for (std::size_t i = 0; i < t.size; ++i) update(t, i, true, p...);
    }, tensors...);
}
inline bool valid_learning_rate(float lr) noexcept { return std::isfinite(lr) && lr >= 0.0f; }
}  // namespace detail

template <class Weights>
[[nodiscard]] inline status sgd_step(Weights& w, Weights& g, float learning_rate) noexcept {
    if (!detail::valid_learning_rate(learning_rate)) return status::invalid_parameter;
    auto update = [lr = learning_rate](const tensor_info&, std::size_t i, bool write, float* wp, float* gp) {
        const float next = wp[i] - lr * gp[i];
        if (write) wp[i] = next;
        return std::isfinite(gp[i]) && std::isfinite(next);
    };
    if (!detail::update_stays_finite(update, w, g)) return status::non_finite;
    detail::apply_update(update, w, g);
    return status::ok;
}

/// SGD with momentum: v = momentum * v + g; w -= learning_rate * v (the velocity lives here).
template <class Weights>
struct sgd_momentum {
    float learning_rate = 0.01f;  ///< > 0 and finite
    float momentum = 0.9f;        ///< in [0, 1)
    Weights velocity;  ///< same shape as the weights

    /// Zeroes the momentum buffer: call before the first step (static storage already is zero).
    void reset() noexcept { zero_tensors(velocity); }

    /// One update of `w` from the gradients `g`; status::invalid_parameter (nothing changed) for a
    /// bad learning rate or momentum, non_finite for a NaN or infinite gradient.
    [[nodiscard]] status step(Weights& w, Weights& g) noexcept {
        if (!detail::valid_learning_rate(learning_rate)) return status::invalid_parameter;
        if (!(momentum >= 0.0f && momentum < 1.0f)) return status::invalid_parameter;
        auto update = [lr = learning_rate, mu = momentum](const tensor_info&, std::size_t i, bool write, float* wp,
                                                          float* gp, float* bp) {
            const float b = mu * bp[i] + gp[i];
            const float next = wp[i] - lr * b;
            if (write) {
                bp[i] = b;
                wp[i] = next;
            }
            return std::isfinite(gp[i]) && std::isfinite(b) && std::isfinite(next);
        };
        if (!detail::update_stays_finite(update, w, g, velocity)) return status::non_finite;
        detail::apply_update(update, w, g, velocity);
        return status::ok;
    }
};

}  // namespace ctattn::train
