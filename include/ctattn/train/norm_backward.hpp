// SPDX-License-Identifier: Apache-2.0
// Backward of the row norms (kernels/norm.hpp), per norm policy:
//   LayerNorm: xh = (x - mean) r, r = 1/sqrt(var + eps), y = xh g + b
//              dg += dy xh,  db += dy,  dx = r (dxh - mean(dxh) - xh mean(dxh xh)),  dxh = dy g
//   RMSNorm:   y = xh g, xh = x r, r = 1/sqrt(mean(x^2) + eps)
//              dg += dy xh,  dx = r (dxh - xh mean(dxh xh)),  dxh = dy g
//   no_norm:   dx = dy
// mean and r are recomputed from the stored input x by the forward's own statistics functions
// (kernels/norm.hpp), in the same units: on rows whose plain sums overflow they are those of x / m
// (m = max |x|), and r = scale / m is applied as a division last so that it never overflows.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>

#include "../kernels/norm.hpp"
#include "../layers/norm.hpp"

namespace ctattn::train {

/// Backward of the row norm `Norm`: one specialisation per norm policy.
template <class Norm>
struct norm_backward;

/// LayerNorm backward. In row(), x: the norm's input row; dy: gradient of its output; dx: receives (accumulate:
/// adds) the input gradient and may alias dy; dw: the gain (and bias) gradients, added to.
template <class Eps>
struct norm_backward<layer_norm<Eps>> {
    /// Gain and bias of a row of D values, as the forward norm stores them.
    template <std::size_t D>
    using weights = typename layer_norm<Eps>::template weights<D>;
    /// One row of D values: dx from dy, and dy xh added to dw.gain, dy to dw.bias.
    template <std::size_t D>
    static void row(const weights<D>& w, const float* x, const float* dy, float* dx, weights<D>& dw,
                    bool accumulate) noexcept {
        const kernels::norm_statistics stats = kernels::layer_norm_statistics<D>(x, layer_norm<Eps>::eps);
        float mean_dxh = 0.0f, mean_dxh_xh = 0.0f;
        for (std::size_t i = 0; i < D; ++i) {
            const float xh = (x[i] / stats.unit - stats.centre) * stats.scale, dxh = dy[i] * w.gain[i];
            mean_dxh += dxh;
            mean_dxh_xh += dxh * xh;
            dw.gain[i] += dy[i] * xh;
            dw.bias[i] += dy[i];
        }
        mean_dxh /= float(D);
        mean_dxh_xh /= float(D);
        for (std::size_t i = 0; i < D; ++i) {
            const float xh = (x[i] / stats.unit - stats.centre) * stats.scale;
            const float g = stats.scale * (dy[i] * w.gain[i] - mean_dxh - xh * mean_dxh_xh) / stats.unit;
            dx[i] = accumulate ? dx[i] + g : g;
        }
    }
};

/// RMSNorm backward; row() takes the same arguments as LayerNorm's.
template <class Eps>
struct norm_backward<rms_norm<Eps>> {
    /// Gain of a row of D values, as the forward norm stores it.
    template <std::size_t D>
    using weights = typename rms_norm<Eps>::template weights<D>;
    /// One row of D values: dx from dy, and dy xh added to dw.gain.
    template <std::size_t D>
    static void row(const weights<D>& w, const float* x, const float* dy, float* dx, weights<D>& dw,
                    bool accumulate) noexcept {
        const kernels::norm_statistics stats = kernels::rms_norm_statistics<D>(x, rms_norm<Eps>::eps);
        float mean_dxh_xh = 0.0f;
        for (std::size_t i = 0; i < D; ++i) {
            const float xh = x[i] / stats.unit * stats.scale;
            mean_dxh_xh += dy[i] * w.gain[i] * xh;
            dw.gain[i] += dy[i] * xh;
        }
        mean_dxh_xh /= float(D);
        for (std::size_t i = 0; i < D; ++i) {
            const float xh = x[i] / stats.unit * stats.scale;
            const float g = stats.scale * (dy[i] * w.gain[i] - xh * mean_dxh_xh) / stats.unit;
            dx[i] = accumulate ? dx[i] + g : g;
        }
    }
};

/// Backward of no norm: the gradient passes through.
template <>
struct norm_backward<no_norm> {
    /// No weights (an empty type).
    template <std::size_t D>
    using weights = no_norm::weights<D>;
    /// One row of D values: dx = dy (accumulate: dx += dy); x and dw are unused.
    template <std::size_t D>
    static void row(const weights<D>&, const float*, const float* dy, float* dx, weights<D>&,
                    bool accumulate) noexcept {
        for (std::size_t i = 0; i < D; ++i) dx[i] = accumulate ? dx[i] + dy[i] : dy[i];
    }
};

}  // namespace ctattn::train
