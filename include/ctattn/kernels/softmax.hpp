// Row softmax, max-subtracted: p_j = exp(s_j - max) / sum_k exp(s_k - max). Subtracting the max
// keeps every exponent <= 0, so scores up to +-1e30 stay finite. Masked keys (outside the visible
// run, or -inf) get weight exactly 0, and a fully masked row gives all zeros, never NaN.
#pragma once

#include <cstddef>
#include <limits>

#include "../simd.hpp"
#include "mask.hpp"

namespace ctattn::kernels {

// In place over row[0, n): keys inside `visible` are normalised, the rest set to 0.
template <class Arch = simd::default_arch>
inline void softmax_row(float* row, std::size_t n, key_range visible) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    const std::size_t begin = visible.begin, end = visible.end < n ? visible.end : n;
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();

    float max = minus_inf;
    std::size_t j = begin;
    if (begin < end && end - begin >= W) {
        typename V::vec m = V::load(row + j);
        for (j += W; j + W <= end; j += W) m = V::max(m, V::load(row + j));
        max = V::reduce_max(m);
    }
    for (; j < end; ++j) max = row[j] > max ? row[j] : max;

    if (begin >= end || !(max > minus_inf)) {  // fully masked (or every score -inf)
        for (std::size_t t = 0; t < n; ++t) row[t] = 0.0f;
        return;
    }

    const typename V::vec max_v = V::broadcast(max);
    typename V::vec sum_v = V::zero();
    for (j = begin; j + W <= end; j += W) {
        const typename V::vec e = V::exp(V::sub(V::load(row + j), max_v));
        V::store(row + j, e);
        sum_v = sum_v + e;
    }
    float sum = V::reduce_add(sum_v);
    for (; j < end; ++j) {
        const float e = simd::ops<simd::scalar_arch>::exp(row[j] - max);
        row[j] = e;
        sum += e;
    }

    // sum >= 1 because the max term contributes exp(0) = 1: the division is always safe.
    const float inv_sum = 1.0f / sum;
    const typename V::vec inv_v = V::broadcast(inv_sum);
    for (j = begin; j + W <= end; j += W) V::store(row + j, V::mul(V::load(row + j), inv_v));
    for (; j < end; ++j) row[j] *= inv_sum;

    for (std::size_t t = 0; t < begin; ++t) row[t] = 0.0f;
    for (std::size_t t = end; t < n; ++t) row[t] = 0.0f;
}

// Plain softmax over a whole row; -inf entries are masked entries.
template <class Arch = simd::default_arch>
inline void softmax_row(float* row, std::size_t n) noexcept {
    softmax_row<Arch>(row, n, key_range{0, n});
}

}  // namespace ctattn::kernels
