// SPDX-License-Identifier: Apache-2.0
// Normalisation of one activation row, the step that keeps the residual stream's scale in check:
//   LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * gain + bias      (var: biased, over the row)
//   RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gain                       (llama: no centring, no bias)
// Reductions run in SIMD over the row (contiguous) with an explicit scalar tail. The norm policies
// that call them (`layer_norm<Eps>`, `rms_norm<Eps>`, `no_norm`) are in layers/norm.hpp.
#pragma once

#include <cmath>
#include <cstddef>

#include "../simd/ops.hpp"
#include "../base/storage.hpp"

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
