// SPDX-License-Identifier: Apache-2.0
// Norm policies: which normalisation a block or model applies, with its eps and the shape of its
// weights. Each maps one row through the row kernels of kernels/norm.hpp:
//   layer_norm: y = (x - mean) / sqrt(var + eps) * gain + bias;  rms_norm: y = x / sqrt(mean(x^2) + eps) * gain
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ratio>

#include "../base/weight_storage.hpp"
#include "../kernels/norm.hpp"
#include "../simd/ops.hpp"

namespace ctattn {

// Norm policies. Each says what weights a norm of width D holds (owned, or a view into constant
// storage: base/weight_storage.hpp) and how it maps one row; blocks and models take them as
// plain template parameters.

// eps as an exact ratio type (std::ratio<Num, Den>) rather than a float template argument: float
// non-type template parameters are C++20 but not in every compiler (clang < 18).
// eps_1e_minus<5> is std::ratio<1, 100000>, i.e. 1e-5.
namespace detail {
constexpr std::intmax_t power_of_ten(int exponent) noexcept {
    std::intmax_t p = 1;
    for (int i = 0; i < exponent; ++i) p *= 10;
    return p;
}
template <class R>
concept ratio_type = requires {
    { R::num } -> std::convertible_to<std::intmax_t>;
    { R::den } -> std::convertible_to<std::intmax_t>;
};
}  // namespace detail

/// eps = 10^-Exponent as a std::ratio, for the Eps parameter of layer_norm and rms_norm.
template <int Exponent>
using eps_1e_minus = std::ratio<1, detail::power_of_ten(Exponent)>;

/// LayerNorm (PyTorch nn.LayerNorm, elementwise affine). Eps is a template parameter because it is
/// part of the trained model's definition, not a run-time choice.
template <class Eps = eps_1e_minus<5>>
struct layer_norm {
    static_assert(detail::ratio_type<Eps>, "ctattn: layer_norm's Eps is a std::ratio, e.g. eps_1e_minus<5> for 1e-5");
    static_assert(Eps::num > 0, "ctattn: layer_norm eps must be positive (it keeps 1/sqrt(var + eps) finite)");
    static constexpr float eps = float(double(Eps::num) / double(Eps::den));  ///< Eps as a float
    static constexpr const char* name = "layer_norm";  ///< as configurations and test reports spell it
    /// The weights of a norm over D floats, owned or a view into constant storage.
    template <std::size_t D, weight_storage Storage = owned_weights>
    struct weights {
        typename Storage::template matrix<1, D> gain;  ///< (d_model)
        typename Storage::template matrix<1, D> bias;  ///< (d_model)
    };
    /// y[0..D) = norm(x[0..D)); y may be x.
    template <std::size_t D, class Arch, class Storage>
    static void apply(const weights<D, Storage>& w, const float* x, float* y) noexcept {
        kernels::layer_norm_row<D, Arch>(x, w.gain.data(), w.bias.data(), eps, y);
    }
};

/// RMSNorm (llama): scale only, no centring and no bias.
template <class Eps = eps_1e_minus<5>>
struct rms_norm {
    static_assert(detail::ratio_type<Eps>, "ctattn: rms_norm's Eps is a std::ratio, e.g. eps_1e_minus<5> for 1e-5");
    static_assert(Eps::num > 0, "ctattn: rms_norm eps must be positive (it keeps 1/sqrt(mean(x^2) + eps) finite)");
    static constexpr float eps = float(double(Eps::num) / double(Eps::den));  ///< Eps as a float
    static constexpr const char* name = "rms_norm";  ///< as configurations and test reports spell it
    /// The weights of a norm over D floats, owned or a view into constant storage.
    template <std::size_t D, weight_storage Storage = owned_weights>
    struct weights {
        typename Storage::template matrix<1, D> gain;  ///< (d_model)
    };
    /// y[0..D) = norm(x[0..D)); y may be x.
    template <std::size_t D, class Arch, class Storage>
    static void apply(const weights<D, Storage>& w, const float* x, float* y) noexcept {
        kernels::rms_norm_row<D, Arch>(x, w.gain.data(), eps, y);
    }
};

/// Identity: for models without a final norm (the `lm_*` golden cases).
struct no_norm {
    static constexpr const char* name = "none";  ///< as configurations and test reports spell it
    /// Empty: the identity has no parameters.
    template <std::size_t D, weight_storage Storage = owned_weights>
    struct weights {};
    /// y[0..D) = x[0..D); y may be x.
    template <std::size_t D, class Arch, class Storage>
    static void apply(const weights<D, Storage>&, const float* x, float* y) noexcept {
        if (x != y)
            for (std::size_t i = 0; i < D; ++i) y[i] = x[i];
    }
};

/// What a type must provide to be used as a norm policy (checked with a sample width of 8).
template <class N>
concept norm_policy = requires(const typename N::template weights<8>& w, const float* x, float* y) {
    { N::name } -> std::convertible_to<const char*>;
    N::template apply<8, simd::scalar_arch>(w, x, y);
};

}  // namespace ctattn
