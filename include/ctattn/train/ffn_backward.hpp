// SPDX-License-Identifier: Apache-2.0
// The feed-forward network (layers/ffn.hpp) for training: a forward pass that keeps what the backward
// pass needs, and the backward pass itself. With z = x W1 + b1, u = x W3 + b3 (gated only):
//   dense:  h = act(z)          gated:  h = act(z) * u          y = h W2 + b2
//   dh = dy W2^T, dW2 += h^T dy, db2 += dy;  dz (and du) from activation_backward.hpp;
//   dx = dz W1^T (+ du W3^T),  dW1 += x^T dz (dW3 += x^T du),  db1 += dz (db3 += du)
// The projections are kernels::project and the activations kernels::activate_*, as in forward.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "../layers/ffn.hpp"
#include "../kernels/activation.hpp"
#include "../kernels/projection.hpp"
#include "../simd/ops.hpp"
#include "activation_backward.hpp"
#include "projection_backward.hpp"

namespace ctattn::train {

/// The FFN of configuration `C` for training: forward keeps z, u and h, backward turns dy into dx and gradients.
template <ffn_configuration C, class Arch = simd::default_arch>
struct ffn_training {
    using weights_type = ffn_weights<C>;  ///< the layer's weights, and its gradients
    /// Model width (d_model).
    static constexpr std::size_t D = C::d_model, F = C::d_ff;  ///< F: hidden width (d_ff)

    /// x: rows x D -> y: rows x D. Kept: z (rows x F, before the activation), u (rows x F, gated
    /// only; may be null otherwise), h (rows x F, the input of W2).
    static void forward(const weights_type& w, std::size_t rows, const float* x, float* y, float* z, float* u,
                        float* h) noexcept {
        using Act = typename C::activation;
        kernels::project<D, F, Arch>(rows, x, w.w1.data(), w.b1_data(), z);
        for (std::size_t i = 0; i < rows * F; ++i) h[i] = z[i];
        if constexpr (C::gated) {
            kernels::project<D, F, Arch>(rows, x, w.w3_data(), w.b3_data(), u);
            for (std::size_t r = 0; r < rows; ++r) kernels::activate_gated_row<Act, F, Arch>(h + r * F, u + r * F);
        } else {
            (void)u;
            for (std::size_t r = 0; r < rows; ++r) kernels::activate_row<Act, F, Arch>(h + r * F);
        }
        kernels::project<F, D, Arch>(rows, h, w.w2.data(), w.b2_data(), y);
    }

    /// dy: rows x D -> dx: rows x D (overwritten). Gradients are added to g. dz, du: rows x F scratch
    /// (du only for gated kinds).
    static void backward(const weights_type& w, std::size_t rows, const float* x, const float* z, const float* u,
                         const float* h, const float* dy, float* dx, weights_type& g, float* dz, float* du) noexcept {
        using Act = typename C::activation;
        float* db1 = nullptr;
        float* db2 = nullptr;
        if constexpr (C::bias) {
            db1 = g.b1.data();
            db2 = g.b2.data();
        }
        projection_input_gradient<F, D, Arch>(rows, dy, w.w2.data(), dz, false);  // dz holds dh for now
        projection_weight_gradient<F, D>(rows, h, dy, g.w2.data(), db2);
        if constexpr (C::gated) {
            for (std::size_t r = 0; r < rows; ++r)
                gated_row_gradient<Act, F>(z + r * F, u + r * F, dz + r * F, dz + r * F, du + r * F);
            float* db3 = nullptr;
            if constexpr (C::bias) db3 = g.b3.data();
            projection_input_gradient<D, F, Arch>(rows, du, w.w3.data(), dx, false);
            projection_weight_gradient<D, F>(rows, x, du, g.w3.data(), db3);
            projection_input_gradient<D, F, Arch>(rows, dz, w.w1.data(), dx, true);
        } else {
            (void)u;
            (void)du;
            for (std::size_t r = 0; r < rows; ++r) activation_row_gradient<Act, F>(z + r * F, dz + r * F, dz + r * F);
            projection_input_gradient<D, F, Arch>(rows, dz, w.w1.data(), dx, false);
        }
        projection_weight_gradient<D, F>(rows, x, dz, g.w1.data(), db1);
    }
};

}  // namespace ctattn::train
