// SPDX-License-Identifier: Apache-2.0
// Pointwise activations of the feed-forward network, as policy types:
//   relu(x) = max(x, 0)                         gelu_erf(x)  = x/2 * (1 + erf(x / sqrt 2))   (exact)
//   silu(x) = x * sigmoid(x) = x / (1 + e^-x)   gelu_tanh(x) = x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// Each policy maps one SIMD vector (`apply<Arch>`) and one float (`value`); the row kernels run the
// vector form over full vectors and the float form over the tail.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include "../simd/fixed_point.hpp"
#include "../simd/ops.hpp"
#include "../simd/target.hpp"

namespace ctattn {

namespace detail {
// erf and tanh for the scalar path, xsimd batches and Helium vectors (simd::ops has exp but not these two).
inline float erf_of(float x) noexcept { return std::erf(x); }
inline float tanh_of(float x) noexcept { return std::tanh(x); }
#if defined(CTATTN_HAS_XSIMD)
template <class A>
inline xsimd::batch<float, A> erf_of(const xsimd::batch<float, A>& x) noexcept {
    return xsimd::erf(x);
}
template <class A>
inline xsimd::batch<float, A> tanh_of(const xsimd::batch<float, A>& x) noexcept {
    return xsimd::tanh(x);
}
#endif
#if defined(CTATTN_HAS_MVE_FLOAT)
inline float32x4_t erf_of(float32x4_t x) noexcept { return simd::mve::map_lanes(x, [](float v) { return std::erf(v); }); }
inline float32x4_t tanh_of(float32x4_t x) noexcept { return simd::mve::map_lanes(x, [](float v) { return std::tanh(v); }); }
#endif
}  // namespace detail

/// ReLU: max(x, 0).
struct relu {
    static constexpr const char* name = "relu";  ///< as configurations and test reports spell it
    /// Every lane of one SIMD vector of Arch.
    template <class Arch>
    static typename simd::ops<Arch>::vec apply(typename simd::ops<Arch>::vec x) noexcept {
        return simd::ops<Arch>::max(x, simd::ops<Arch>::zero());
    }
    /// One float: the row tail, and the scalar reference.
    static float value(float x) noexcept { return x > 0.0f ? x : 0.0f; }
};

/// GELU in its exact form (PyTorch's default `gelu`, the `enc_*`/`lm_*` golden cases).
struct gelu_erf {
    static constexpr const char* name = "gelu";  ///< as configurations and test reports spell it
    /// Every lane of one SIMD vector of Arch.
    template <class Arch>
    static typename simd::ops<Arch>::vec apply(typename simd::ops<Arch>::vec x) noexcept {
        using V = simd::ops<Arch>;
        const typename V::vec half_x = V::mul(x, V::broadcast(0.5f));
        return V::fma(half_x, detail::erf_of(V::mul(x, V::broadcast(0.70710678118654752f))), half_x);
    }
    /// One float: the row tail, and the scalar reference.
    static float value(float x) noexcept { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
};

/// GELU's tanh approximation (GPT-2, PyTorch `gelu(approximate='tanh')`): a different function from
/// gelu_erf (they differ by up to ~5e-4), so it is its own policy rather than an implementation detail.
struct gelu_tanh {
    static constexpr const char* name = "gelu_tanh";               ///< as configurations and test reports spell it
    static constexpr float sqrt_2_over_pi = 0.79788456080286536f;  ///< sqrt(2 / pi)
    static constexpr float cubic = 0.044715f;                      ///< coefficient of x^3 inside the tanh
    /// Every lane of one SIMD vector of Arch.
    template <class Arch>
    static typename simd::ops<Arch>::vec apply(typename simd::ops<Arch>::vec x) noexcept {
        using V = simd::ops<Arch>;
        const typename V::vec half_x = V::mul(x, V::broadcast(0.5f));
        const typename V::vec x3 = V::mul(V::mul(x, x), x);
        const typename V::vec inner = V::mul(V::broadcast(sqrt_2_over_pi), V::fma(V::broadcast(cubic), x3, x));
        return V::fma(half_x, detail::tanh_of(inner), half_x);
    }
    /// One float: the row tail, and the scalar reference.
    static float value(float x) noexcept {
        return 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * (x + cubic * x * x * x)));
    }
};

/// SiLU (swish): the gate activation of SwiGLU. For x -> -inf, e^-x overflows to inf and the
/// result is x * 0 = -0, the correct limit, with no NaN.
struct silu {
    static constexpr const char* name = "silu";  ///< as configurations and test reports spell it
    /// Every lane of one SIMD vector of Arch.
    template <class Arch>
    static typename simd::ops<Arch>::vec apply(typename simd::ops<Arch>::vec x) noexcept {
        using V = simd::ops<Arch>;
        if constexpr (std::is_same_v<Arch, simd::scalar_arch> && simd::target::soft_float) {
            return simd::fixed_point::silu(x);  // no FPU: no expf (a dozen soft-float calls)
        } else {
            const typename V::vec one = V::broadcast(1.0f);
            const typename V::vec denominator = one + V::exp(V::sub(V::zero(), x));
            if constexpr (requires { V::div(x, denominator); })
                return V::div(x, denominator);  // an arch without a vector divide (Helium) brings its own
            else
                return x / denominator;
        }
    }
    /// One float: the row tail, and the scalar reference (without an FPU, simd/fixed_point.hpp's).
    static float value(float x) noexcept {
        if constexpr (simd::target::soft_float)
            return simd::fixed_point::silu(x);
        else
            return x / (1.0f + std::exp(-x));
    }
};

/// What a type must provide to be used as an activation policy.
template <class A>
concept activation_policy = requires(float x) {
    { A::value(x) } -> std::same_as<float>;
    { A::template apply<simd::scalar_arch>(x) } -> std::same_as<float>;
    { A::name } -> std::convertible_to<const char*>;
};

}  // namespace ctattn

namespace ctattn::kernels {

// x[i] = act(x[i]) over N floats, in place.
template <activation_policy Act, std::size_t N, class Arch = simd::default_arch>
inline void activate_row(float* x) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = N / W * W;
    for (std::size_t i = 0; i < full; i += W) V::store(x + i, Act::template apply<Arch>(V::load(x + i)));
    for (std::size_t i = full; i < N; ++i) x[i] = Act::value(x[i]);
}

// Gated linear unit: gate[i] = act(gate[i]) * up[i] over N floats, in place in `gate` (SwiGLU
// with act = silu: silu(x W1) * (x W3)).
template <activation_policy Act, std::size_t N, class Arch = simd::default_arch>
inline void activate_gated_row(float* gate, const float* up) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = N / W * W;
    for (std::size_t i = 0; i < full; i += W)
        V::store(gate + i, V::mul(Act::template apply<Arch>(V::load(gate + i)), V::load(up + i)));
    if constexpr (full < N) {  // the tail as one padded vector: one vector exp, not N - full scalar calls
        alignas(64) float lanes[W] = {};
        alignas(64) float up_lanes[W] = {};
        for (std::size_t i = full; i < N; ++i) lanes[i - full] = gate[i], up_lanes[i - full] = up[i];
        V::store(lanes, V::mul(Act::template apply<Arch>(V::load(lanes)), V::load(up_lanes)));
        for (std::size_t i = full; i < N; ++i) gate[i] = lanes[i - full];
    }
}

}  // namespace ctattn::kernels
