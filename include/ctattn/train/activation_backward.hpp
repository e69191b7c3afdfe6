// SPDX-License-Identifier: Apache-2.0
// Derivatives of the FFN activations (kernels/activation.hpp), per policy:
//   relu'(x)      = [x > 0]
//   gelu_erf'(x)  = Phi(x) + x phi(x),  Phi(x) = (1 + erf(x/sqrt 2))/2,  phi(x) = exp(-x^2/2)/sqrt(2 pi)
//   gelu_tanh'(x) = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 a x^2),  t = tanh(c (x + a x^3))
//   silu'(x)      = s (1 + x (1 - s)),  s = sigmoid(x)
// and the FFN's pointwise step backward, dense h = act(z) or gated h = act(z) * u:
//   dz = dh act'(z)   (gated: dz = dh u act'(z),  du = dh act(z))
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>

#include "../kernels/activation.hpp"

namespace ctattn::train {

/// act'(x) for the activation policy `Act`: one specialisation per policy, each with `static float at(float x)`.
template <class Act>
struct activation_derivative;

/// relu'(x) = [x > 0].
template <>
struct activation_derivative<relu> {
    /// The derivative at x (0 at x = 0).
    static float at(float x) noexcept { return x > 0.0f ? 1.0f : 0.0f; }
};
/// gelu_erf'(x) = Phi(x) + x phi(x).
template <>
struct activation_derivative<gelu_erf> {
    /// The derivative at x.
    static float at(float x) noexcept {
        constexpr float inv_sqrt2 = 0.70710678118654752f, inv_sqrt_2pi = 0.39894228040143268f;
        return 0.5f * (1.0f + std::erf(x * inv_sqrt2)) + x * inv_sqrt_2pi * std::exp(-0.5f * x * x);
    }
};
/// gelu_tanh'(x), the derivative of the tanh approximation itself.
template <>
struct activation_derivative<gelu_tanh> {
    /// The derivative at x.
    static float at(float x) noexcept {
        constexpr float c = gelu_tanh::sqrt_2_over_pi, a = gelu_tanh::cubic;
        const float t = std::tanh(c * (x + a * x * x * x));
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * a * x * x);
    }
};
/// silu'(x) = s (1 + x (1 - s)), s = sigmoid(x).
template <>
struct activation_derivative<silu> {
    /// The derivative at x.
    static float at(float x) noexcept {
        const float s = 1.0f / (1.0f + std::exp(-x));
        return s * (1.0f + x * (1.0f - s));
    }
};

/// Dense: dz[i] = dh[i] act'(z[i]) over N floats (dz may alias dh).
template <class Act, std::size_t N>
inline void activation_row_gradient(const float* z, const float* dh, float* dz) noexcept {
    for (std::size_t i = 0; i < N; ++i) dz[i] = dh[i] * activation_derivative<Act>::at(z[i]);
}

/// Gated: dz[i] = dh[i] u[i] act'(z[i]), du[i] = dh[i] act(z[i]) (dz may alias dh; du must not).
template <class Act, std::size_t N>
inline void gated_row_gradient(const float* z, const float* u, const float* dh, float* dz, float* du) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
        const float g = dh[i];
        du[i] = g * Act::value(z[i]);
        dz[i] = g * u[i] * activation_derivative<Act>::at(z[i]);
    }
}

}  // namespace ctattn::train
