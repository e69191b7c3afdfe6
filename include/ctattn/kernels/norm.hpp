// SPDX-License-Identifier: Apache-2.0
// Normalisation of one activation row, the step that keeps the residual stream's scale in check:
//   LayerNorm: y = (x - mean(x)) / sqrt(var(x) + eps) * gain + bias      (var: biased, over the row)
//   RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gain                       (llama: no centring, no bias)
// Reductions run in SIMD over the row (contiguous) with an explicit scalar tail. The norm policies
// that call them (`layer_norm<Eps>`, `rms_norm<Eps>`, `no_norm`) are in layers/norm.hpp.
// Any finite row is normalised without overflow: when a plain sum overflows (1e20^2, or the sum of
// a row of FLT_MAX/2) or underflows (squares below FLT_MIN), the row is redone in units of its
// largest |x| (x/m has |x/m| <= 1), so the hot path pays one comparison per row.
#pragma once

#include <cfloat>
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
// The scalar path, for N a multiple of 4, keeps four partial sums (element i into sum i mod 4,
// fused) and adds them pairwise, (s0 + s1) + (s2 + s3): the order of Helium's four lanes and its
// reduce_add (simd/mve.hpp), so a Cortex-M55 normalises a row to the same bits as the scalar
// build and a Cortex-M4F (tests/embedded/stories_small_ram_fw.cpp).
template <std::size_t N, class Arch>
inline float row_sum_squares(const float* x, float centre) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    constexpr std::size_t full = N / W * W;
    float sum = 0.0f;
    if constexpr (W == 1 && N % 4 == 0) {
        float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (std::size_t i = 0; i < N; i += 4)
            CTATTN_UNROLL for (std::size_t l = 0; l < 4; ++l) {
                const float d = x[i + l] - centre;
                lanes[l] = V::fma(d, d, lanes[l]);
            }
        return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    } else if constexpr (full > 0) {
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

// A row's statistics in the units the row was reduced in: xh_i = (x_i / unit - centre) * scale.
// unit is 1 on the common path (x_i / 1 is exact, and the kernels then skip the division) and the
// row's largest |x| on the rare one; LayerNorm's backward (train/norm_backward.hpp) uses the same
// numbers, so forward and backward agree.
struct norm_statistics {
    float unit;
    float centre;
    float scale;
};

namespace detail {
// Sums of squares below this have lost digits to denormal squares (each square below FLT_MIN keeps
// fewer than 24 bits): the row is redone in units of its largest |x|. All-zero rows land here too.
inline constexpr float smallest_exact_sum_squares = FLT_MIN * 0x1p24f;

// max_i |x[i]| (NaN ignored: a NaN row gives NaN through the plain path anyway).
template <std::size_t N>
inline float row_max_abs(const float* x) noexcept {
    float m = 0.0f;
    for (std::size_t i = 0; i < N; ++i) {
        const float a = std::fabs(x[i]);
        m = a > m ? a : m;
    }
    return m;
}

// The rare path: mean and variance of x / m, m = max |x| (so every term and sum is at most N and
// nothing overflows), and eps / m^2 in the same units. Returns `plain` (the plain statistics)
// when m is 0, not finite, or eps / m^2 overflows, i.e. eps so dominates the variance that the
// plain statistics are already exact to float rounding. Out of line and cold (as the attention
// cores' double path), so the common path's code and its inlining stay as they were.
template <std::size_t N>
[[gnu::cold, gnu::noinline]] inline norm_statistics scaled_statistics(const float* x, float eps, bool centred,
                                                                      norm_statistics plain) noexcept {
    const float m = row_max_abs<N>(x);
    if (!(m > 0.0f && m <= FLT_MAX)) return plain;
    const float eps_scaled = eps / m / m;
    if (!(eps_scaled <= FLT_MAX)) return plain;
    float mean = 0.0f;
    if (centred) {
        for (std::size_t i = 0; i < N; ++i) mean += x[i] / m;
        mean /= float(N);
    }
    float sum_squares = 0.0f;
    for (std::size_t i = 0; i < N; ++i) sum_squares += (x[i] / m - mean) * (x[i] / m - mean);
    // A zero denominator (eps / m^2 underflowed, every x / m equals the mean) leaves every
    // normalised value exactly 0 whatever the scale: 0 keeps it from becoming 0 * inf.
    const float denominator = sum_squares / float(N) + eps_scaled;
    return {m, mean, denominator > 0.0f ? 1.0f / std::sqrt(denominator) : 0.0f};
}

// y = (x / unit - centre) * scale * gain (+ bias when not null): scale_row's rare-path twin.
template <std::size_t N>
[[gnu::cold, gnu::noinline]] inline void scale_row_in_units(const float* x, const norm_statistics& stats, const float* gain, const float* bias,
                               float* y) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
        const float normed = (x[i] / stats.unit - stats.centre) * stats.scale;
        y[i] = bias ? normed * gain[i] + bias[i] : normed * gain[i];
    }
}
}  // namespace detail

namespace detail {
// The test that sends a row to the rare path: one comparison pair covers both overflows (an
// infinite mean makes the sum of squares NaN) and the underflow.
inline bool plain_sums_exact(float sum_squares) noexcept {
    return sum_squares >= smallest_exact_sum_squares && sum_squares <= FLT_MAX;
}

// The rare path of the row kernels below: the statistics in units of max |x|, then the row, by
// its own loop even where it falls back to the plain statistics (unit 1: x / 1 is exact), so that
// scale_row keeps one caller and stays inlined with its bias test folded away (at -Os too).
template <std::size_t N, bool Centred>
[[gnu::cold, gnu::noinline]] inline void normalise_rare_row(const float* x, const float* gain, const float* bias, float eps,
                                                            norm_statistics plain, float* y) noexcept {
    scale_row_in_units<N>(x, scaled_statistics<N>(x, eps, Centred, plain), gain, bias, y);
}
}  // namespace detail

// LayerNorm's statistics of one row of N floats, as layer_norm_row computes them. Two passes
// (mean, then squared deviations) rather than E[x^2] - E[x]^2, which cancels catastrophically
// when |mean| >> std.
template <std::size_t N, class Arch = simd::default_arch>
inline norm_statistics layer_norm_statistics(const float* x, float eps) noexcept {
    static_assert(N > 0, "ctattn: layer_norm needs a row of at least 1 element");
    const float mean = detail::row_sum<N, Arch>(x) / float(N);
    const float sum_squares = detail::row_sum_squares<N, Arch>(x, mean);
    const norm_statistics plain{1.0f, mean, 1.0f / std::sqrt(sum_squares / float(N) + eps)};
    if (!detail::plain_sums_exact(sum_squares)) [[unlikely]]
        return detail::scaled_statistics<N>(x, eps, true, plain);
    return plain;
}

// RMSNorm's statistics of one row of N floats (centre 0), as rms_norm_row computes them.
template <std::size_t N, class Arch = simd::default_arch>
inline norm_statistics rms_norm_statistics(const float* x, float eps) noexcept {
    static_assert(N > 0, "ctattn: rms_norm needs a row of at least 1 element");
    const float sum_squares = detail::row_sum_squares<N, Arch>(x, 0.0f);
    const norm_statistics plain{1.0f, 0.0f, 1.0f / std::sqrt(sum_squares / float(N) + eps)};
    if (!detail::plain_sums_exact(sum_squares)) [[unlikely]]
        return detail::scaled_statistics<N>(x, eps, false, plain);
    return plain;
}

// LayerNorm of one row of N floats; y may be x.
template <std::size_t N, class Arch = simd::default_arch>
inline void layer_norm_row(const float* x, const float* gain, const float* bias, float eps, float* y) noexcept {
    static_assert(N > 0, "ctattn: layer_norm needs a row of at least 1 element");
    const float mean = detail::row_sum<N, Arch>(x) / float(N);
    const float sum_squares = detail::row_sum_squares<N, Arch>(x, mean);
    const float scale = 1.0f / std::sqrt(sum_squares / float(N) + eps);
    if (!detail::plain_sums_exact(sum_squares)) [[unlikely]]
        return detail::normalise_rare_row<N, true>(x, gain, bias, eps, {1.0f, mean, scale}, y);
    detail::scale_row<N, Arch>(x, mean, scale, gain, bias, y);
}

// RMSNorm of one row of N floats; y may be x.
template <std::size_t N, class Arch = simd::default_arch>
inline void rms_norm_row(const float* x, const float* gain, float eps, float* y) noexcept {
    static_assert(N > 0, "ctattn: rms_norm needs a row of at least 1 element");
    const float sum_squares = detail::row_sum_squares<N, Arch>(x, 0.0f);
    const float scale = 1.0f / std::sqrt(sum_squares / float(N) + eps);
    if (!detail::plain_sums_exact(sum_squares)) [[unlikely]]
        return detail::normalise_rare_row<N, false>(x, gain, nullptr, eps, {1.0f, 0.0f, scale}, y);
    detail::scale_row<N, Arch>(x, 0.0f, scale, gain, nullptr, y);
}

}  // namespace ctattn::kernels
