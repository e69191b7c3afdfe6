// Normalisation of one activation row, the step that keeps the residual stream's scale in check:
//   LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * gain + bias      (var: biased, over the row)
//   RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gain                       (llama: no centring, no bias)
// Reductions run in SIMD over the row (contiguous) with an explicit scalar tail. The norm policy
// types (`layer_norm<Eps>`, `rms_norm<Eps>`, `no_norm`) carry eps and their weights' shape.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ratio>

#include "../model/weight_storage.hpp"
#include "../simd.hpp"
#include "../storage.hpp"

namespace ctattn::kernels {

namespace detail {
// sum_i x[i] over N floats.
template <std::size_t N, class Arch>
inline float row_sum(const float* x) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = N / W * W;
    float sum = 0.0f;
    if constexpr (full > 0) {
        typename V::vec acc = V::zero();
        for (std::size_t i = 0; i < full; i += W) acc = acc + V::load(x + i);
        sum = V::reduce_add(acc);
    }
    for (std::size_t i = full; i < N; ++i) sum += x[i];
    return sum;
}

// sum_i (x[i] - centre)^2 over N floats (centre 0 gives the plain sum of squares).
template <std::size_t N, class Arch>
inline float row_sum_squares(const float* x, float centre) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = N / W * W;
    float sum = 0.0f;
    if constexpr (full > 0) {
        const typename V::vec c = V::broadcast(centre);
        typename V::vec acc = V::zero();
        for (std::size_t i = 0; i < full; i += W) {
            const typename V::vec d = V::sub(V::load(x + i), c);
            acc = V::fma(d, d, acc);
        }
        sum = V::reduce_add(acc);
    }
    for (std::size_t i = full; i < N; ++i) sum += (x[i] - centre) * (x[i] - centre);
    return sum;
}

// y = (x - centre) * scale * gain (+ bias when not null).
template <std::size_t N, class Arch>
inline void scale_row(const float* x, float centre, float scale, const float* gain, const float* bias,
                      float* y) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = N / W * W;
    if constexpr (full > 0) {
        const typename V::vec c = V::broadcast(centre), s = V::broadcast(scale);
        for (std::size_t i = 0; i < full; i += W) {
            const typename V::vec normed = V::mul(V::sub(V::load(x + i), c), s);
            V::store(y + i, bias ? V::fma(normed, V::load(gain + i), V::load(bias + i))
                                 : V::mul(normed, V::load(gain + i)));
        }
    }
    for (std::size_t i = full; i < N; ++i) {
        const float normed = (x[i] - centre) * scale;
        y[i] = bias ? normed * gain[i] + bias[i] : normed * gain[i];
    }
}
}  // namespace detail

// LayerNorm of one row of N floats; y may be x. Two passes (mean, then squared deviations) rather
// than E[x^2] - E[x]^2, which cancels catastrophically when |mean| >> std.
template <std::size_t N, class Arch = simd::default_arch>
inline void layer_norm_row(const float* x, const float* gain, const float* bias, float eps, float* y) noexcept {
    static_assert(N > 0, "ctattn: layer_norm needs a row of at least 1 element");
    const float mean = detail::row_sum<N, Arch>(x) / float(N);
    const float variance = detail::row_sum_squares<N, Arch>(x, mean) / float(N);
    detail::scale_row<N, Arch>(x, mean, 1.0f / std::sqrt(variance + eps), gain, bias, y);
}

// RMSNorm of one row of N floats; y may be x.
template <std::size_t N, class Arch = simd::default_arch>
inline void rms_norm_row(const float* x, const float* gain, float eps, float* y) noexcept {
    static_assert(N > 0, "ctattn: rms_norm needs a row of at least 1 element");
    const float mean_square = detail::row_sum_squares<N, Arch>(x, 0.0f) / float(N);
    detail::scale_row<N, Arch>(x, 0.0f, 1.0f / std::sqrt(mean_square + eps), gain, nullptr, y);
}

}  // namespace ctattn::kernels

namespace ctattn {

// Norm policies. Each says what weights a norm of width D holds (owned, or a view into constant
// storage: model/weight_storage.hpp) and how it maps one row; blocks and models take them as
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

template <int Exponent>
using eps_1e_minus = std::ratio<1, detail::power_of_ten(Exponent)>;

// LayerNorm (PyTorch nn.LayerNorm, elementwise affine). Eps is a template parameter because it is
// part of the trained model's definition, not a run-time choice.
template <class Eps = eps_1e_minus<5>>
struct layer_norm {
    static_assert(detail::ratio_type<Eps>, "ctattn: layer_norm's Eps is a std::ratio, e.g. eps_1e_minus<5> for 1e-5");
    static_assert(Eps::num > 0, "ctattn: layer_norm eps must be positive (it keeps 1/sqrt(var + eps) finite)");
    static constexpr float eps = float(double(Eps::num) / double(Eps::den));
    static constexpr const char* name = "layer_norm";
    template <std::size_t D, weight_storage Storage = owned_weights>
    struct weights {
        typename Storage::template matrix<1, D> gain;  // (d_model)
        typename Storage::template matrix<1, D> bias;  // (d_model)
    };
    template <std::size_t D, class Arch, class Storage>
    static void apply(const weights<D, Storage>& w, const float* x, float* y) noexcept {
        kernels::layer_norm_row<D, Arch>(x, w.gain.data(), w.bias.data(), eps, y);
    }
};

// RMSNorm (llama): scale only, no centring and no bias.
template <class Eps = eps_1e_minus<5>>
struct rms_norm {
    static_assert(detail::ratio_type<Eps>, "ctattn: rms_norm's Eps is a std::ratio, e.g. eps_1e_minus<5> for 1e-5");
    static_assert(Eps::num > 0, "ctattn: rms_norm eps must be positive (it keeps 1/sqrt(mean(x^2) + eps) finite)");
    static constexpr float eps = float(double(Eps::num) / double(Eps::den));
    static constexpr const char* name = "rms_norm";
    template <std::size_t D, weight_storage Storage = owned_weights>
    struct weights {
        typename Storage::template matrix<1, D> gain;  // (d_model)
    };
    template <std::size_t D, class Arch, class Storage>
    static void apply(const weights<D, Storage>& w, const float* x, float* y) noexcept {
        kernels::rms_norm_row<D, Arch>(x, w.gain.data(), eps, y);
    }
};

// Identity: for models without a final norm (the `lm_*` golden cases).
struct no_norm {
    static constexpr const char* name = "none";
    template <std::size_t D, weight_storage Storage = owned_weights>
    struct weights {};
    template <std::size_t D, class Arch, class Storage>
    static void apply(const weights<D, Storage>&, const float* x, float* y) noexcept {
        if (x != y)
            for (std::size_t i = 0; i < D; ++i) y[i] = x[i];
    }
};

// What a type must provide to be used as a norm policy (checked with a sample width of 8).
template <class N>
concept norm_policy = requires(const typename N::template weights<8>& w, const float* x, float* y) {
    { N::name } -> std::convertible_to<const char*>;
    N::template apply<8, simd::scalar_arch>(w, x, y);
};

}  // namespace ctattn
